/** The local viewer of data sets, runs and predictions: the API behind `gapseg view`. */
import { GapsegError } from '../util/errors.js';
import { parseClassesFlag, readClassFile, type ClassDescription } from '../data/classes.js';
import { DEFAULT_MAX_UPLOAD, startViewer, type Viewer } from '../view/server.js';

export type { Viewer };

/** The port the viewer tries first. */
export const DEFAULT_VIEW_PORT = 7878;

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
  /** Extra `gapseg train` arguments for training from the page, e.g. ["--crop", "128"]. */
  trainArgs?: string[];
  /** Largest image the page may upload for decoding, MB (default 32). */
  maxUploadMB?: number;
  maxPixels?: number;
  log?: (line: string) => void;
}

/** Serve the viewer for a folder; returns once it listens (close() stops it). */
export async function view(folder: string, options: ViewOptions = {}): Promise<Viewer> {
  const host = options.host ?? '127.0.0.1';
  if (!/^[0-9a-zA-Z.:-]+$/.test(host)) throw new GapsegError(`--host ${host}: not an address`, 2);
  const port = options.port ?? DEFAULT_VIEW_PORT;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new GapsegError(`--port must be between 0 and 65535, got ${port}`, 2);
  const mb = options.maxUploadMB;
  if (mb !== undefined && !(mb >= 0.001 && mb <= 4096)) throw new GapsegError(`--max-upload must be between 0.001 and 4096, got ${mb}`, 2);
  if (options.maxPixels !== undefined && !(Number.isInteger(options.maxPixels) && options.maxPixels >= 1)) throw new GapsegError('--max-pixels must be at least 1', 2);
  if (options.classes !== undefined && options.classFile !== undefined) throw new GapsegError('give either --classes or --class-file, not both', 2);
  const classes = typeof options.classes === 'string' ? parseClassesFlag(options.classes, (options.void ?? []).map(String)) : options.classFile ? readClassFile(options.classFile) : options.classes;
  const base = {
    root: folder,
    model: options.model,
    classes,
    trainArgs: options.trainArgs,
    host,
    maxUploadBytes: mb !== undefined ? Math.round(mb * 1024 * 1024) : DEFAULT_MAX_UPLOAD,
    limits: options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : undefined,
    log: options.log ?? (() => undefined),
  };
  try {
    return await startViewer({ ...base, port });
  } catch (e) {
    // The default port may be taken by another viewer: then any free port will do.
    if (options.port !== undefined || !(e instanceof GapsegError) || !e.message.includes('in use')) throw e;
    return startViewer({ ...base, port: 0 });
  }
}
