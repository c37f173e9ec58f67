/**
 * Painting labels in the viewer: round brush strokes of one class (or VOID, the eraser) into
 * a class map, or any set of pixels at once (a fill, a polygon), with undo and redo. Browser-safe and pure: the page draws the rectangle a change
 * returns. A stroke records each pixel it changed once, with its value before, so undoing a
 * long stroke over a large image costs what the stroke touched, not the image.
 */
import type { Rect } from '../../draw/layers.js';

/** The pixels one stroke changed: their indices, their classes before, and the class painted. */
export interface Stroke {
  indices: Uint32Array;
  before: Uint8Array;
  value: number;
  rect: Rect;
}

/** A bounding box being grown (empty: x0 > x1). */
interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const emptyBox = (): Box => ({ x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity });

/** A stroke in progress over one class map. */
export class StrokeBuilder {
  private indices: number[] = [];
  private before: number[] = [];
  private x0 = Infinity;
  private y0 = Infinity;
  private x1 = -Infinity;
  private y1 = -Infinity;

  constructor(
    private readonly labels: Uint8Array,
    private readonly width: number,
    private readonly height: number,
    readonly value: number,
    /** Per pixel, the id of the last stroke that changed it (shared by the strokes of one image). */
    private readonly stamp: Uint32Array,
    private readonly id: number,
  ) {}

  /**
   * Paint the capsule of radius `radius` around the segment from (ax, ay) to (bx, by), in
   * pixel coordinates (pixel i's centre is i + 0.5); returns the rectangle it changed, or null.
   */
  segment(ax: number, ay: number, bx: number, by: number, radius: number): Rect | null {
    const { width, height } = this;
    const r = Math.max(0.5, radius);
    const xa = Math.max(0, Math.floor(Math.min(ax, bx) - r));
    const xb = Math.min(width - 1, Math.ceil(Math.max(ax, bx) + r));
    const ya = Math.max(0, Math.floor(Math.min(ay, by) - r));
    const yb = Math.min(height - 1, Math.ceil(Math.max(ay, by) + r));
    if (xa > xb || ya > yb) return null;
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    const r2 = r * r;
    const changed = emptyBox();
    for (let y = ya; y <= yb; y++) {
      const py = y + 0.5;
      for (let x = xa; x <= xb; x++) {
        const px = x + 0.5;
        // Distance from the pixel centre to the segment.
        const t = len2 > 0 ? Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / len2)) : 0;
        const ex = px - (ax + t * dx);
        const ey = py - (ay + t * dy);
        if (ex * ex + ey * ey > r2) continue;
        this.set(y * width + x, changed);
      }
    }
    return this.close(changed);
  }

  /** Set these pixels (a filled region or polygon); the rectangle changed, or null. */
  pixels(list: ArrayLike<number>): Rect | null {
    const changed = emptyBox();
    for (let j = 0; j < list.length; j++) this.set(list[j], changed);
    return this.close(changed);
  }

  /** Paint pixel i, recording its value before the stroke once, and grow `changed` to hold it. */
  private set(i: number, changed: Box): void {
    const { labels, width, value, stamp, id } = this;
    if (labels[i] === value) return;
    if (stamp[i] !== id) {
      stamp[i] = id;
      this.indices.push(i);
      this.before.push(labels[i]);
    }
    labels[i] = value;
    const x = i % width;
    const y = (i - x) / width;
    changed.x0 = Math.min(changed.x0, x);
    changed.x1 = Math.max(changed.x1, x);
    changed.y0 = Math.min(changed.y0, y);
    changed.y1 = Math.max(changed.y1, y);
  }

  /** The rectangle of one change (null: nothing changed), added to the stroke's. */
  private close(c: Box): Rect | null {
    if (c.x0 > c.x1) return null;
    this.x0 = Math.min(this.x0, c.x0);
    this.y0 = Math.min(this.y0, c.y0);
    this.x1 = Math.max(this.x1, c.x1);
    this.y1 = Math.max(this.y1, c.y1);
    return { x: c.x0, y: c.y0, w: c.x1 - c.x0 + 1, h: c.y1 - c.y0 + 1 };
  }

  /** The finished stroke, or null when it changed nothing. */
  finish(): Stroke | null {
    if (this.indices.length === 0) return null;
    return {
      indices: Uint32Array.from(this.indices),
      before: Uint8Array.from(this.before),
      value: this.value,
      rect: { x: this.x0, y: this.y0, w: this.x1 - this.x0 + 1, h: this.y1 - this.y0 + 1 },
    };
  }
}

/** Undo and redo of strokes on one class map. */
export class LabelHistory {
  private done: Stroke[] = [];
  private undone: Stroke[] = [];
  /** Strokes since the last save (negative after undoing past it). */
  private sinceSave = 0;
  private stampId = 0;
  readonly stamp: Uint32Array;

  constructor(
    readonly labels: Uint8Array,
    readonly width: number,
    readonly height: number,
  ) {
    this.stamp = new Uint32Array(labels.length);
  }

  /** Start a stroke of class `value`. */
  begin(value: number): StrokeBuilder {
    return new StrokeBuilder(this.labels, this.width, this.height, value, this.stamp, ++this.stampId);
  }

  /** Keep a finished stroke (a new stroke clears the redo list). */
  push(s: Stroke | null): void {
    if (!s) return;
    this.done.push(s);
    this.undone = [];
    this.sinceSave = this.sinceSave < 0 ? Infinity : this.sinceSave + 1;
  }

  /** Undo the last stroke; the rectangle to redraw, or null when there is none. */
  undo(): Rect | null {
    const s = this.done.pop();
    if (!s) return null;
    for (let j = 0; j < s.indices.length; j++) this.labels[s.indices[j]] = s.before[j];
    this.undone.push(s);
    this.sinceSave -= 1;
    return s.rect;
  }

  /** Redo the last undone stroke; the rectangle to redraw, or null. */
  redo(): Rect | null {
    const s = this.undone.pop();
    if (!s) return null;
    for (let j = 0; j < s.indices.length; j++) this.labels[s.indices[j]] = s.value;
    this.done.push(s);
    this.sinceSave += 1;
    return s.rect;
  }

  canUndo(): boolean {
    return this.done.length > 0;
  }

  canRedo(): boolean {
    return this.undone.length > 0;
  }

  /** Whether the map differs from what was last saved (or loaded). */
  dirty(): boolean {
    return this.sinceSave !== 0;
  }

  /** The map as it is now was saved. */
  saved(): void {
    this.sinceSave = 0;
  }
}
