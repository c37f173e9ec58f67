/**
 * Writing the frontier of one prediction: <out>/frontier/<name>.svg and .geojson, and the
 * uncertainty band <out>/uncertainty/<name>.png (255 = uncertain). Files are written atomically.
 */
import path from 'node:path';
import { encodePng } from '../data/decode.js';
import { makeDir, writeFileAtomic } from '../util/atomic.js';
import { frontierPolygons, uncertaintyMask } from './frontier.js';
import { frontierGeoJson, frontierSvg, type FrontierLayer } from './frontierFormats.js';
import type { OutputClass } from './outputs.js';
import type { Prediction } from './pipeline.js';

export interface FrontierWriteOptions {
  outDir: string;
  name: string;
  /** The input image file; the SVG shows it as background through a relative link. */
  imageFile?: string;
  pred: Prediction;
  classes: readonly OutputClass[];
  /** Classes the argmax ran over (forbidden classes get no polygons). */
  allowed: readonly number[];
  /** Write the SVG and GeoJSON contours. */
  frontier: boolean;
  /** Write the uncertainty band: pixels whose top probability is below this. */
  uncertainty?: number;
}

/** Write the frontier files of one prediction; returns the paths written. */
export async function writeFrontierOutputs(o: FrontierWriteOptions): Promise<string[]> {
  const { pred } = o;
  const written: string[] = [];
  const put = async (sub: string, file: string, data: Uint8Array | string) => {
    const dir = path.join(o.outDir, sub);
    await makeDir(dir);
    const p = path.join(dir, file);
    await writeFileAtomic(p, data);
    written.push(p);
  };
  if (o.frontier) {
    const layers: FrontierLayer[] = frontierPolygons(pred.probs, pred.width, pred.height, pred.numClasses, pred.classes, o.allowed).map(
      (cp) => ({
        ...o.classes[cp.classIndex],
        polygons: cp.polygons,
      }),
    );
    const dir = path.join(o.outDir, 'frontier');
    const href = o.imageFile ? path.relative(dir, path.resolve(o.imageFile)).split(path.sep).map(encodeURIComponent).join('/') : undefined;
    await put('frontier', `${o.name}.svg`, frontierSvg(layers, pred.width, pred.height, { imageHref: href }));
    const geo = frontierGeoJson(layers, pred.width, pred.height, o.imageFile ? path.basename(o.imageFile) : undefined);
    await put('frontier', `${o.name}.geojson`, JSON.stringify(geo) + '\n');
  }
  if (o.uncertainty !== undefined) {
    const mask = uncertaintyMask(pred.probs, pred.numClasses, pred.classes, o.uncertainty);
    await put('uncertainty', `${o.name}.png`, await encodePng(mask, pred.width, pred.height, 1));
  }
  return written;
}
