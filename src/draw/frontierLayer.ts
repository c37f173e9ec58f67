/**
 * The frontier layer of the report and the viewer: where the predicted boundary runs, as
 * lines to draw over the image. With two allowed classes it is the iso-line of the focus
 * class's probability at the decision threshold (0.5 = the argmax boundary, sub-pixel): the
 * same curve as the polygons of src/predict/frontier.ts (marching squares on p at 0.5, mean
 * saddle rule), but as open lines, without the image-border edges that close those polygons,
 * and following the threshold slider. With more classes, the outline of the predicted class
 * map. Browser-safe: imports only browser-safe modules.
 */
import { classOutline, isoLines, type Polyline } from './contour.js';
import { focusProbability, type Decision } from './layers.js';

/** What the frontier is computed from: HWC class probabilities and the decided classes. */
export interface FrontierInput {
  probs: Float32Array;
  width: number;
  height: number;
  numClasses: number;
  classes: Uint8Array;
}

/** Frontier polylines in image pixel coordinates. */
export function frontierLines(p: FrontierInput, d: Decision): Polyline[] {
  const allowed = d.allowed.filter(Boolean).length;
  if (allowed < 2 || !d.allowed[d.focus]) return [];
  if (allowed === 2) {
    const q = focusProbability(p.probs, p.width * p.height, p.numClasses, d);
    return isoLines(q, p.width, p.height, d.threshold ?? 0.5);
  }
  return classOutline(p.classes, p.width, p.height);
}
