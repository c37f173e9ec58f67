/**
 * A gapseg model on disk: a folder with model.json + weights.bin (TensorFlow.js layers
 * format) and gapseg.json beside them, which is both a class description (same "classes" and
 * "void" fields as a data set's gapseg.json) and the input recipe (scale, normalisation).
 * The folder is replaced atomically: readers see the old model or the new one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError, fsProblem } from '../util/errors.js';
import { replaceDirAtomic, writeFileAtomic } from '../util/atomic.js';
import { classesToJson, parseClassesJson, type ClassDescription } from '../data/classes.js';
import { GAP_HEAD, buildNet, netKind, netValues, type AnyNet, type NetConfig } from '../nets/index.js';
import type { UNetConfig } from '../nets/unet/unet.js';
import type { MobileUNetConfig } from '../nets/mobilenetV2/unet.js';
import { checkValues, fromLayersFiles, toLayersFiles } from './layersFormat.js';

/** How to turn an image into network input. */
export interface InputRecipe {
  /** Resize factor from the original image to the training scale. */
  scale: number;
  /** Per-channel mean and std on the 0..1 scale. */
  mean: number[];
  std: number[];
  /** Largest side (at the training scale) predicted in one piece; larger images are tiled. */
  tile: number;
}

export interface ModelMeta {
  /** The network (a U-Net's config carries no kind in folders from before there were two). */
  net: NetConfig;
  classes: ClassDescription;
  input: InputRecipe;
  /** Free-form provenance: epoch, validation metrics, data set... */
  info: Record<string, unknown>;
}

/** The model folder of a run folder, or the folder itself if it is a model. */
export function modelDirOf(p: string): string {
  if (!fs.existsSync(p)) throw new GapsegError(`${p}: not found`);
  if (fs.existsSync(path.join(p, 'model', 'gapseg.json'))) return path.join(p, 'model');
  if (fs.existsSync(path.join(p, 'gapseg.json')) && fs.existsSync(path.join(p, 'model.json'))) return p;
  if (fs.existsSync(path.join(p, 'config.json'))) {
    throw new GapsegError(`${p}: this run has no model yet (no epoch has finished)`);
  }
  throw new GapsegError(`${p}: not a gapseg run or model folder (expected model/gapseg.json or model.json + gapseg.json)`);
}

/** Write a model folder atomically. */
export async function saveModel(dir: string, net: AnyNet, meta: Omit<ModelMeta, 'net'>): Promise<void> {
  // A gap output is training's (nets/network.ts gapHeadSpecs): the model is its classes alone.
  const { gapOutput: _gap, ...config } = net.config;
  const values = await netValues(net);
  for (const name of Object.values(GAP_HEAD)) values.delete(name);
  // A U-Net keeps the section it has always had; other networks name their kind.
  const section =
    netKind(config) === 'unet' ? { format: 'gapseg-unet', version: 1, unet: config } : { format: 'gapseg-net', version: 2, net: config };
  const metaJson = {
    ...classesToJson(meta.classes),
    model: { ...section, input: meta.input, info: meta.info },
  };
  const files = await toLayersFiles(config, values, metaJson);
  await writeModelFolder(dir, files.modelJson, files.weightsBin, metaJson);
}

/** A model folder's three files, the folder replaced atomically. */
async function writeModelFolder(dir: string, modelJson: string, weights: Uint8Array, metaJson: object): Promise<void> {
  await replaceDirAtomic(dir, async (staging) => {
    await writeFileAtomic(path.join(staging, 'model.json'), modelJson);
    await writeFileAtomic(path.join(staging, 'weights.bin'), weights);
    await writeFileAtomic(path.join(staging, 'gapseg.json'), JSON.stringify(metaJson, null, 2) + '\n');
  });
}

/**
 * Add one entry to a saved model's info (gapseg.json and model.json's copy of it), the folder
 * replaced atomically; the weights are copied unchanged.
 */
export async function setModelInfo(dir: string, key: string, value: unknown): Promise<void> {
  const withInfo = (meta: { model?: { info?: Record<string, unknown> } }) => {
    if (!meta.model) throw new GapsegError(`${dir}: gapseg.json has no "model" section`);
    meta.model.info = { ...(meta.model.info ?? {}), [key]: value };
  };
  const metaJson = JSON.parse(fs.readFileSync(path.join(dir, 'gapseg.json'), 'utf8'));
  withInfo(metaJson);
  const modelJson = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  if (modelJson.userDefinedMetadata?.gapseg) withInfo(modelJson.userDefinedMetadata.gapseg);
  await writeModelFolder(dir, JSON.stringify(modelJson), fs.readFileSync(path.join(dir, 'weights.bin')), metaJson);
}

/** Read a model folder's description without loading weights. */
export function readModelMeta(dir: string): ModelMeta {
  const file = path.join(dir, 'gapseg.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new GapsegError(`${dir}: not a gapseg model folder (no gapseg.json)`);
  }
  const classes = parseClassesJson(text, file);
  const json = JSON.parse(text) as {
    model?: { format?: string; unet?: UNetConfig; net?: MobileUNetConfig; input?: InputRecipe; info?: Record<string, unknown> };
  };
  const m = json.model;
  const net: NetConfig | undefined = m?.format === 'gapseg-unet' ? m.unet : m?.format === 'gapseg-net' ? m.net : undefined;
  if (!m || !net || !m.input) {
    throw new GapsegError(`${file}: has no "model" section; it describes classes but not a gapseg model`);
  }
  const problem =
    (m.format === 'gapseg-unet' ? unetSectionProblem(net as UNetConfig) : netSectionProblem(net as MobileUNetConfig)) ??
    inputProblem(m.input);
  if (problem) throw new GapsegError(`${file}: ${problem}; the model folder is damaged`);
  if (net.numClasses !== classes.classes.length) {
    throw new GapsegError(`${file}: model has ${net.numClasses} outputs but ${classes.classes.length} classes are described`);
  }
  return { net, classes, input: m.input, info: m.info && typeof m.info === 'object' ? m.info : {} };
}

const isInt = (v: unknown, lo: number, hi: number) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const isNum = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;
const triple = (v: unknown, lo: number) => Array.isArray(v) && v.length === 3 && v.every((x) => isNum(x, lo, 1e6));

/** What is wrong with a U-Net section's network config, or null. */
function unetSectionProblem(u: UNetConfig): string | null {
  if (u.inChannels !== 3) return `model.unet.inChannels must be 3 (RGB), not ${JSON.stringify(u.inChannels)}`;
  if (!isInt(u.numClasses, 1, 254)) return `model.unet.numClasses must be an integer in 1..254, not ${JSON.stringify(u.numClasses)}`;
  if (!isInt(u.depth, 1, 8)) return `model.unet.depth must be an integer in 1..8, not ${JSON.stringify(u.depth)}`;
  if (!isInt(u.baseWidth, 1, 512)) return `model.unet.baseWidth must be an integer in 1..512, not ${JSON.stringify(u.baseWidth)}`;
  if (!isNum(u.bnEpsilon, 1e-12, 1)) return `model.unet.bnEpsilon must be a small positive number, not ${JSON.stringify(u.bnEpsilon)}`;
  if (!isNum(u.bnMomentum, 0, 1)) return `model.unet.bnMomentum must be in 0..1, not ${JSON.stringify(u.bnMomentum)}`;
  return null;
}

/** What is wrong with the network config of a MobileNetV2 U-Net section, or null. */
function netSectionProblem(n: MobileUNetConfig): string | null {
  if (n.kind !== 'mobilenet_v2_unet') return `model.net.kind must be "mobilenet_v2_unet", not ${JSON.stringify(n.kind)}`;
  if (n.inChannels !== 3) return `model.net.inChannels must be 3 (RGB), not ${JSON.stringify(n.inChannels)}`;
  if (!isInt(n.numClasses, 1, 254)) return `model.net.numClasses must be an integer in 1..254, not ${JSON.stringify(n.numClasses)}`;
  if (!(Array.isArray(n.decoderWidths) && n.decoderWidths.length === 5 && n.decoderWidths.every((w) => isInt(w, 1, 1024))))
    return 'model.net.decoderWidths must be five integers in 1..1024';
  if (!isNum(n.bnEpsilon, 1e-12, 1)) return `model.net.bnEpsilon must be a small positive number, not ${JSON.stringify(n.bnEpsilon)}`;
  if (!isNum(n.bnMomentum, 0, 1)) return `model.net.bnMomentum must be in 0..1, not ${JSON.stringify(n.bnMomentum)}`;
  return null;
}

/** What is wrong with a model section's input recipe, or null. */
function inputProblem(input: InputRecipe): string | null {
  if (!isNum(input.scale, 0.001, 1000)) return `model.input.scale must be a positive number, not ${JSON.stringify(input.scale)}`;
  if (!triple(input.mean, -1e6)) return 'model.input.mean must be three numbers';
  if (!triple(input.std, 1e-12)) return 'model.input.std must be three positive numbers';
  if (!isInt(input.tile, 16, 1 << 20)) return `model.input.tile must be an integer of at least 16, not ${JSON.stringify(input.tile)}`;
  return null;
}

/** Read a model folder's weights and check them against its config (no tensors are made). */
export function readModelValues(dir: string, meta: ModelMeta): Map<string, Float32Array> {
  const jsonFile = path.join(dir, 'model.json');
  const binFile = path.join(dir, 'weights.bin');
  const read = (f: string) => {
    try {
      return fs.readFileSync(f);
    } catch (e) {
      throw new GapsegError(`${f}: cannot read (${fsProblem(e)})`);
    }
  };
  const json = read(jsonFile).toString('utf8');
  const bin = read(binFile);
  try {
    const values = fromLayersFiles(json, bin, jsonFile);
    checkValues(meta.net, values, jsonFile);
    // A model whose weights are not numbers predicts one class everywhere, without a word.
    for (const [name, v] of values) {
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i]))
          throw new GapsegError(`${binFile}: weight ${name} holds NaN or infinite values; the model is damaged (train it again)`);
      }
    }
    return values;
  } catch (e) {
    throw new GapsegError(
      (e as Error).message.startsWith(dir) ? (e as Error).message : `${dir}: cannot load model (${(e as Error).message})`,
    );
  }
}

/** Load a model folder into its network (on the current tfjs backend). */
export function loadModel(dir: string): { net: AnyNet; meta: ModelMeta } {
  const meta = readModelMeta(dir);
  return { net: buildNet(meta.net, readModelValues(dir, meta)), meta };
}
