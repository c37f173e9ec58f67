/**
 * Lines for drawing boundaries: iso-lines of a per-pixel field (marching squares on pixel
 * centres) and the outline between differently labelled pixels. Coordinates are in image
 * pixels, (0, 0) the top-left corner of the top-left pixel, so a pixel centre is (x+0.5, y+0.5).
 * Browser-safe: no imports.
 */

/** A polyline as flat coordinates: x0, y0, x1, y1, ... */
export type Polyline = number[];

/**
 * Join segments that share end points into polylines. End points are identified by integer
 * keys (the grid edge or vertex they lie on), so joining never compares floats.
 */
function joinSegments(keys: number[], coords: number[]): Polyline[] {
  const nSeg = keys.length / 2;
  const at = new Map<number, number[]>();
  for (let s = 0; s < nSeg; s++) {
    for (const end of [0, 1]) {
      const k = keys[2 * s + end];
      const list = at.get(k);
      if (list) list.push(s);
      else at.set(k, [s]);
    }
  }
  const used = new Uint8Array(nSeg);
  const lines: Polyline[] = [];
  // Follow unused segments from the end with key `k`; returns the points added, in order.
  const walk = (k: number): number[] => {
    const pts: number[] = [];
    for (;;) {
      const next = (at.get(k) ?? []).find((s) => !used[s]);
      if (next === undefined) return pts;
      used[next] = 1;
      const end = keys[2 * next] === k ? 1 : 0;
      pts.push(coords[4 * next + 2 * end], coords[4 * next + 2 * end + 1]);
      k = keys[2 * next + end];
    }
  };
  for (let s = 0; s < nSeg; s++) {
    if (used[s]) continue;
    used[s] = 1;
    const forward = walk(keys[2 * s + 1]);
    const backward = walk(keys[2 * s]);
    const line: number[] = [];
    for (let i = backward.length - 2; i >= 0; i -= 2) line.push(backward[i], backward[i + 1]);
    line.push(coords[4 * s], coords[4 * s + 1], coords[4 * s + 2], coords[4 * s + 3], ...forward);
    lines.push(line);
  }
  return lines;
}

// Marching-squares cases (corner bits: top-left 8, top-right 4, bottom-right 2, bottom-left 1)
// as pairs of cell edges (0 top, 1 right, 2 bottom, 3 left). Saddles 5 and 10 are resolved below.
const CASES: number[][] = [[], [3, 2], [2, 1], [3, 1], [0, 1], [], [0, 2], [3, 0], [3, 0], [0, 2], [], [0, 1], [3, 1], [2, 1], [3, 2], []];

/**
 * Iso-lines of `field` (w x h, row-major) at `level`: the boundary between pixels >= level
 * and pixels below it, interpolated linearly between pixel centres.
 */
export function isoLines(field: Float32Array, w: number, h: number, level: number): Polyline[] {
  const keys: number[] = [];
  const coords: number[] = [];
  // The crossing on the grid edge from pixel (x, y) to its right (dir 0) or lower (dir 1) neighbour.
  const point = (x: number, y: number, dir: 0 | 1): void => {
    const a = field[y * w + x];
    const b = dir === 0 ? field[y * w + x + 1] : field[(y + 1) * w + x];
    const t = b === a ? 0.5 : (level - a) / (b - a);
    keys.push(2 * (y * w + x) + dir);
    coords.push(x + 0.5 + (dir === 0 ? t : 0), y + 0.5 + (dir === 1 ? t : 0));
  };
  const edge = (x: number, y: number, e: number): void => {
    if (e === 0) point(x, y, 0);
    else if (e === 1) point(x + 1, y, 1);
    else if (e === 2) point(x, y + 1, 0);
    else point(x, y, 1);
  };
  for (let y = 0; y + 1 < h; y++) {
    for (let x = 0; x + 1 < w; x++) {
      const tl = field[y * w + x];
      const tr = field[y * w + x + 1];
      const br = field[(y + 1) * w + x + 1];
      const bl = field[(y + 1) * w + x];
      const c = (tl >= level ? 8 : 0) | (tr >= level ? 4 : 0) | (br >= level ? 2 : 0) | (bl >= level ? 1 : 0);
      let pairs: number[];
      if (c === 5 || c === 10) {
        const centreIn = (tl + tr + br + bl) / 4 >= level;
        // Inside corners joined through the centre leave the two outside corners cut off.
        const cutTlBr = (c === 5) === centreIn;
        pairs = cutTlBr ? [3, 0, 2, 1] : [0, 1, 3, 2];
      } else pairs = CASES[c];
      for (const e of pairs) edge(x, y, e);
    }
  }
  return joinSegments(keys, coords);
}

/** The outline between 4-neighbours of different classes, along pixel edges. */
export function classOutline(classes: Uint8Array, w: number, h: number): Polyline[] {
  const keys: number[] = [];
  const coords: number[] = [];
  const vertex = (x: number, y: number) => y * (w + 1) + x;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = classes[y * w + x];
      if (x + 1 < w && classes[y * w + x + 1] !== c) {
        keys.push(vertex(x + 1, y), vertex(x + 1, y + 1));
        coords.push(x + 1, y, x + 1, y + 1);
      }
      if (y + 1 < h && classes[(y + 1) * w + x] !== c) {
        keys.push(vertex(x, y + 1), vertex(x + 1, y + 1));
        coords.push(x, y + 1, x + 1, y + 1);
      }
    }
  }
  return joinSegments(keys, coords);
}

/** SVG path data for polylines, coordinates multiplied by `scale` and rounded to `digits` decimals. */
export function pathData(lines: Polyline[], scale = 1, digits = 2): string {
  const f = 10 ** digits;
  const r = (v: number) => String(Math.round(v * scale * f) / f);
  const parts: string[] = [];
  for (const l of lines) {
    if (l.length < 4) continue;
    parts.push(`M${r(l[0])} ${r(l[1])}`);
    for (let i = 2; i < l.length; i += 2) parts.push(`L${r(l[i])} ${r(l[i + 1])}`);
  }
  return parts.join('');
}
