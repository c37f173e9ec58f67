/**
 * The JSON the viewer's server and its page exchange, declared once for both sides: the server
 * (server.ts, catalog.ts, training.ts) writes these shapes, the page (page/*.ts) reads them.
 * Types only: the page imports this file too, so it holds no code and imports no Node module.
 */
import type { ClassInfo } from '../data/classes.js';
import type { InputRecipe } from '../formats/modelFolder.js';
import type { RefineCheck } from '../predict/refineCheck.js';
import type { EpochRecord } from '../train/loop.js';

/** What names an image of the list, the same on the server and in the page. */
export interface ItemName {
  id: number;
  name: string;
  /** Where it comes from: "data set-folder/split" or a predictions folder. */
  group: string;
}

/** An image of the list as the page sees it (GET /api/catalog): URLs of the server, never file paths. */
export interface ItemJson extends ItemName {
  image: string;
  label: string | null;
  truth: string | null;
  pred: string | null;
  /** The label file's version when the image can be painted (a data set's), else null. */
  labelVersion: string | null;
}

/** What the page is told of the model, the same on the server. */
export interface ModelInfo {
  /** Shown to the user. */
  source: string;
  recipe: InputRecipe;
  /** Input sides must be multiples of this. */
  multiple: number;
  /** Receptive radius in input pixels, for the tiling margins. */
  radius: number;
  info: Record<string, unknown>;
}

/** The model as the page loads it. */
export interface ModelJson extends ModelInfo {
  /** Where model.json and its weights are served. */
  url: string;
  /** Grows with each model trained from the page (a cache-busting query). */
  version: number;
  /** The refinement check training stored: the page starts its switches as `--refine auto` would. */
  refineCheck: RefineCheck | null;
  refineLine: string | null;
}

/** GET /api/catalog: what the served folder holds. */
export interface CatalogJson {
  title: string;
  classes: ClassInfo[] | null;
  voidValues: number[];
  model: ModelJson | null;
  /** URLs of the training reports. */
  reports: string[];
  items: ItemJson[];
  notes: string[];
  maxUploadBytes: number;
  /** Sent back with every write (X-Gapseg-Token). */
  writeToken: string;
  canAddImages: boolean;
  training: { available: true } | { available: false; reason: string };
  /** POST /api/live/<id>: the live model learning from the strokes (the answer: HWC probabilities, 0..255 per class). */
  live: { available: true } | { available: false; reason: string };
}

/** GET /api/train (and the answer to POST /api/train): the server's training. */
export interface TrainingStatus {
  state: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  /** Rounds started since the server started. */
  round: number;
  run: string | null;
  epochs: number;
  history: EpochRecord[];
  /** Seconds since the round started, and estimated to its end (null before the first epoch). */
  elapsed: number;
  eta: number | null;
  /** The child's last output lines (progress, notes, an error). */
  lines: string[];
}

/** POST /api/train: the body. */
export interface TrainRequest {
  epochs: number;
}

/** POST /api/train/cancel: whether a training was running. */
export interface TrainCancelJson {
  cancelled: boolean;
}

/** PUT /api/labels/<id>: the label file written (relative to the served folder) and its new version. */
export interface LabelSavedJson {
  version: string;
  label: string;
  /** The data set's class description (gapseg.json), written with the first label of a set that had none; else null. */
  classFile: string | null;
}

/** POST /api/images: the item added and its image file (relative to the served folder). */
export interface ImageAddedJson {
  id: number;
  image: string;
}

/** Any refused or failed request. */
export interface ErrorJson {
  error: string;
}
