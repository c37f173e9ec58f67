/**
 * The page's state: one object, made by the entry (app.ts) and passed to the functions of the
 * other modules, which keep none of their own. Tests read it as window.gapseg.state.
 */
import type { ImageMetrics, Rgb } from '../../draw/layers.js';
import type { Polyline } from '../../draw/contour.js';
import type { CatalogJson, ItemJson } from '../wire.js';
import type { LabelHistory, StrokeBuilder } from './paint.js';
import type { TfLayersModel } from './tfjs.js';

/** An item's painted label, kept in the page until saved (switching images loses nothing). */
export interface Edit {
  labels: Uint8Array;
  history: LabelHistory;
  /** The label file's version the strokes apply to. */
  version: string;
}

/** One image on screen: its pixels, masks and (when predicted in the page) probabilities. */
export interface View {
  key: string;
  name: string;
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  labels: Uint8Array | null;
  truth: Uint8Array | null;
  /** Predicted classes read from a predictions folder (no probabilities). */
  filePred: Uint8Array | null;
  /** The probabilities shown: the network's, or their dense-CRF refinement while "refine" is on. */
  probs: Float32Array | null;
  /** The network's own probabilities. */
  netProbs: Float32Array | null;
  pred: Uint8Array | null;
}

/** A line of the table of images. */
export interface Row {
  item: ItemJson;
  metrics: ImageMetrics | null;
  /** Share of the image's pixels where the model is unsure (null without a model). */
  unsure: number | null;
  error: string | null;
}

export type SortKey = keyof ImageMetrics | 'name' | 'group' | 'unsure';

export interface PageState {
  catalog: CatalogJson | null;
  /** Number of classes. */
  k: number;
  colors: Rgb[];
  model: TfLayersModel | null;
  /** The TensorFlow.js backend the model runs on. */
  backend: string;
  /** Why it is not WebGPU ('' where it is, or where nothing was said). */
  backendWhy: string;
  rows: Row[];
  sortKey: SortKey;
  sortDir: number;
  current: View | null;
  currentItem: ItemJson | null;
  forbidden: Set<number>;
  threshold: number;
  focus: number;
  thresholdTouched: boolean;
  /** Scale and offset of the image on screen; fit: as zoomFit left it (a resize fits again). */
  zoom: { s: number; x: number; y: number; fit: boolean };
  /** Counters of the background runs: a later run makes an earlier one stop. */
  metricsRun: number;
  reflipRun: number;
  lastLines: Polyline[];
  /** 'pan', or the class painted (VOID: the eraser). */
  tool: 'pan' | number;
  /** How the tool paints: a round brush, a fill of similar colours from a click, or a lasso's inside. */
  shape: 'brush' | 'fill' | 'lasso';
  brush: number;
  edits: Map<number, Edit>;
  /** The stroke under the pointer; a lasso's outline so far in image pixels. */
  stroke: { builder: StrokeBuilder; x: number; y: number; lasso: [number, number][] | null } | null;
  /** Milliseconds from a pointer move to the frame that shows its stroke (the last 500). */
  paintLatency: number[];
  /** The timer polling the server's training while it runs. */
  trainPoll: number | null;
  /** The training round whose model the page uses (-1 before the first answer of the server). */
  seenRound: number;
  /** Live training (live.ts). */
  live: LiveState;
}

export interface LiveState {
  available: boolean;
  inFlight: boolean;
  /** Strokes not sent yet. */
  dirty: boolean;
  /** The item whose labels the server has. */
  sentFor: number | null;
  /** When each stroke not answered yet ended (performance.now()). */
  strokeEnds: number[];
  /** Requests sent: only the latest one's answer counts. */
  seq: number;
  /** Rounds still to ask for after the last stroke. */
  follow: number;
  /** Answers drawn. */
  round: number;
  /** Milliseconds from the end of a stroke to the frontier drawn with its effect (the last 500). */
  latency: number[];
}

export function createState(): PageState {
  return {
    catalog: null,
    k: 0,
    colors: [],
    model: null,
    backend: '',
    backendWhy: '',
    rows: [],
    sortKey: 'name',
    sortDir: 1,
    current: null,
    currentItem: null,
    forbidden: new Set<number>(),
    threshold: 0.5,
    focus: 0,
    thresholdTouched: false,
    zoom: { s: 1, x: 0, y: 0, fit: true },
    metricsRun: 0,
    reflipRun: 0,
    lastLines: [],
    tool: 'pan',
    shape: 'brush',
    brush: 16,
    edits: new Map<number, Edit>(),
    stroke: null,
    paintLatency: [],
    trainPoll: null,
    seenRound: -1,
    live: { available: false, inFlight: false, dirty: false, sentFor: null, strokeEnds: [], seq: 0, follow: 0, round: 0, latency: [] },
  };
}
