/** The local viewer of data sets, runs and predictions: the API behind `gapseg view`. */
import { GapsegError } from '../util/errors.js';
import { parseClassesFlag, readClassFile, type ClassDescription } from '../data/classes.js';
import { DEFAULT_MAX_UPLOAD, startViewer, type Viewer } from '../view/server.js';
import { checkValues, type OptionValues } from '../options/schema.js';
import { DEFAULT_VIEW_PORT, VIEW_COMMAND, type VIEW_OPTIONS } from '../options/commands.js';
import type { ApiKeys, Same } from '../options/keys.js';
import { mobileNetV2WeightsFile } from './weights.js';
import { checkTrainingDevice, type Device } from '../engine/device.js';

export type { Viewer };

export { DEFAULT_VIEW_PORT };

export interface ViewOptions {
  /** Port to listen on; 0 = any free port. Default 7878, or any free port when that one is taken. */
  port?: number;
  /** Address to listen on (default 127.0.0.1; other machines can connect if not loopback). */
  host?: string;
  /** A run or model folder to predict with in the browser (default: one found in the folder). */
  model?: string;
  /** Classes to paint with where the folder has no class description: "0=background,255=smoke,128=void" or a description. */
  classes?: string | ClassDescription;
  /** With a classes string: label values or class names that mean unlabelled. */
  void?: (string | number)[];
  /** A codes.txt or gapseg.json to paint with, instead of classes. */
  classFile?: string;
  /** Extra `gapseg train` flags for training from the page, e.g. "--crop 128 --batch 2". */
  trainArgs?: string;
  /** Largest image the page may upload for decoding, MB (default 32). */
  maxUpload?: number;
  /** Where the live model and training from the page compute: 'cpu' (default), 'webgpu' or 'auto'. */
  device?: Device | 'cuda';
  maxPixels?: number;
  log?: (line: string) => void;
}

// The options and the interface cannot drift apart.
const sameKeys: Same<Exclude<keyof ViewOptions, 'log'>, ApiKeys<typeof VIEW_OPTIONS>> = true;
void sameKeys;

/** Serve the viewer for a folder; returns once it listens (close() stops it). */
export async function view(folder: string, options: ViewOptions = {}): Promise<Viewer> {
  const { classes: given, ...rest } = options;
  checkValues(VIEW_COMMAND, { ...rest, ...(typeof given === 'string' ? { classes: given } : {}) } as OptionValues, ['log']);
  const host = options.host ?? '127.0.0.1';
  if (!/^[0-9a-zA-Z.:-]+$/.test(host)) throw new GapsegError(`--host ${host}: not an address`, 2);
  const port = options.port ?? DEFAULT_VIEW_PORT;
  const mb = options.maxUpload;
  if (options.classes !== undefined && options.classFile !== undefined)
    throw new GapsegError('give either --classes or --class-file, not both', 2);
  const classes =
    typeof options.classes === 'string'
      ? parseClassesFlag(options.classes, (options.void ?? []).map(String))
      : options.classFile
        ? readClassFile(options.classFile)
        : options.classes;
  checkTrainingDevice(options.device);
  const device = options.device ?? 'cpu';
  const trainArgs = options.trainArgs?.split(/\s+/).filter(Boolean) ?? [];
  const base = {
    root: folder,
    model: options.model,
    classes,
    // The page's training computes where the live model does, unless its own flags say otherwise.
    trainArgs: device !== 'cpu' && !trainArgs.includes('--device') ? ['--device', device, ...trainArgs] : trainArgs,
    device,
    host,
    maxUploadBytes: mb !== undefined ? Math.round(mb * 1024 * 1024) : DEFAULT_MAX_UPLOAD,
    limits: options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : undefined,
    log: options.log ?? (() => undefined),
  };
  // Fetched once, on the first live request that needs them; a failed fetch is tried again next time.
  let weightsFile: Promise<string> | null = null;
  const encoderWeights = () =>
    (weightsFile ??= mobileNetV2WeightsFile(undefined, base.log).catch((e: unknown) => {
      weightsFile = null;
      throw e;
    }));
  try {
    return await startViewer({ ...base, encoderWeights, port });
  } catch (e) {
    // The default port may be taken by another viewer: then any free port will do.
    if (options.port !== undefined || !(e instanceof GapsegError) || !e.message.includes('in use')) throw e;
    return startViewer({ ...base, encoderWeights, port: 0 });
  }
}
