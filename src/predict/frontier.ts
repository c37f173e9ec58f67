/**
 * The frontier as sub-pixel contours: marching squares on pixel centres, giving closed,
 * non-crossing rings assembled into polygons with holes.
 *
 * Frame: pixel coordinates, x to the right, y DOWN, origin at the top-left image corner;
 * pixel (x, y) covers [x, x+1] x [y, y+1] and its value sits at its centre (x+0.5, y+0.5). The
 * SVG and GeoJSON outputs use the same frame, so they overlay the image.
 *
 * Orientation: every ring has its region on the left when (x, y) are read as ordinary
 * mathematical axes, so the shoelace area of an exterior ring is positive and that of a hole
 * negative. That is RFC 7946's right-hand rule (exterior counter-clockwise, holes clockwise)
 * as GeoJSON tools compute it from the numbers; drawn on screen with y down, exteriors look
 * clockwise.
 *
 * Image border: the grid is padded with "outside" nodes, and crossings towards them are put
 * on the image border itself, so a region touching the border is closed along it (with the
 * image corner itself as a vertex), and every region boundary is a closed ring.
 *
 * Saddles (two diagonal corners inside, two outside): the inside corners are joined when
 * the mean of the 4 corner values is inside, else separated. Each cell is decided on its own
 * values only, so both cells sharing an edge agree on its crossing and rings always close.
 *
 * Crossings are kept at least T_MIN of a cell side away from pixel centres, so contours never
 * pass through a pixel centre: a polygon contains exactly the pixel centres that are inside,
 * and rings of one region never touch.
 *
 * Polygons: the inside pixels are split into connected regions (4-neighbours, plus the
 * diagonals of joined saddles, exactly the connectivity the contours draw); each region has
 * one exterior ring and its holes, so no point-in-polygon search is needed.
 */

/** A point [x, y] in pixel coordinates (y down). */
export type XY = [number, number];
/** An open ring: the closing edge runs from the last point back to the first. */
export type Ring = XY[];

export interface Polygon {
  /** Positive shoelace area. */
  exterior: Ring;
  /** Negative shoelace area, each inside the exterior. */
  holes: Ring[];
}

/** How to contour a grid of pixel values. */
export interface ContourSpec {
  width: number;
  height: number;
  /** 1 where the pixel centre is inside the region. */
  inside: Uint8Array;
  /** Where the boundary crosses the edge from inside pixel `a` to outside pixel `b`: fraction of the way, 0..1. */
  crossing(a: number, b: number): number;
  /** For a saddle cell (pixel indices tl, tr, br, bl), whether its inside corners are joined. */
  joinSaddle(tl: number, tr: number, br: number, bl: number): boolean;
}

/** Least distance of a crossing from a pixel centre, as a share of the pixel pitch. */
export const T_MIN = 0.01;

/** Signed shoelace area (positive for exteriors in gapseg's convention). */
export function signedArea(ring: Ring): number {
  let s = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) s += ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
  return s / 2;
}

/** Perimeter of a ring, closing edge included. */
export function ringLength(ring: Ring): number {
  let s = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) s += Math.hypot(ring[i][0] - ring[j][0], ring[i][1] - ring[j][1]);
  return s;
}

/** Even-odd point-in-ring test. */
export function pointInRing(x: number, y: number, ring: Ring): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether a point lies in a polygon (inside the exterior, outside every hole). */
export function pointInPolygon(x: number, y: number, poly: Polygon): boolean {
  return pointInRing(x, y, poly.exterior) && !poly.holes.some((h) => pointInRing(x, y, h));
}

/** Drop vertices lying exactly on the straight line between their neighbours (border runs, binary fields). */
function dropCollinear(ring: Ring): Ring {
  if (ring.length <= 3) return ring;
  const out: Ring = [];
  const n = ring.length;
  for (let i = 0; i < n; i++) {
    const a = out.length ? out[out.length - 1] : ring[(i + n - 1) % n];
    const b = ring[i];
    const c = ring[(i + 1) % n];
    const cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
    const forward = (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) > 0;
    if (cross !== 0 || !forward) out.push(b);
  }
  // The first point was judged against the unfiltered last one; judge it again.
  if (out.length > 3) {
    const a = out[out.length - 1];
    const b = out[0];
    const c = out[1];
    const cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
    if (cross === 0 && (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) > 0) out.shift();
  }
  return out;
}

/** A ring and the connected inside region it bounds. */
export interface TracedRing {
  ring: Ring;
  /** Id of the region on the ring's left: its exterior and its holes share it. */
  region: number;
}

/** Union-find root with path halving. */
function root(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

function union(parent: Int32Array, a: number, b: number): void {
  const ra = root(parent, a);
  const rb = root(parent, b);
  if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
}

/**
 * Marching squares over the padded grid of pixel centres: the closed rings bounding the
 * inside region, oriented with the region on the left (positive area for exteriors), each
 * tagged with its connected region (4-neighbours, plus diagonals where a saddle is joined).
 */
export function traceRings(spec: ContourSpec): TracedRing[] {
  const { width: w, height: h, inside } = spec;
  if (inside.length !== w * h) throw new Error(`traceRings: mask has ${inside.length} values for ${w}x${h}`);
  const parent = new Int32Array(w * h);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!inside[i]) continue;
      if (x + 1 < w && inside[i + 1]) union(parent, i, i + 1);
      if (y + 1 < h && inside[i + w]) union(parent, i, i + w);
    }
  }
  // Crossing points ("slots"), one per crossed grid edge, in growable typed arrays.
  let cap = 1024;
  let xs = new Float64Array(cap);
  let ys = new Float64Array(cap);
  // The inside pixel at each crossing's edge: the region on the left of the ring through it.
  let pix = new Int32Array(cap);
  let next = new Int32Array(cap);
  let count = 0;
  const via = new Map<number, XY>();
  const newSlot = (x: number, y: number, p: number): number => {
    if (count === cap) {
      cap *= 2;
      const grow = <T extends Float64Array | Int32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(cap);
        b.set(a);
        return b;
      };
      xs = grow(xs);
      ys = grow(ys);
      pix = grow(pix);
      next = grow(next);
    }
    xs[count] = x;
    ys[count] = y;
    pix[count] = p;
    next[count] = -1;
    return count++;
  };

  const isIn = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && inside[y * w + x] === 1;
  // Corner offsets of a cell: TL, TR, BR, BL; edge e joins corner e and corner (e+1)%4.
  const CX = [0, 1, 1, 0];
  const CY = [0, 0, 1, 1];
  const cornerIn = [false, false, false, false];
  // Slots of the current cell's edges; a cell's right and bottom edges are its neighbours' left and top.
  const edgeSlot = [-1, -1, -1, -1];
  let aboveRow = new Int32Array(w + 1).fill(-1);
  let thisRow = new Int32Array(w + 1).fill(-1);

  const crossingSlot = (cx: number, cy: number, e: number): number => {
    const [ia, ib] = cornerIn[e] ? [e, (e + 1) % 4] : [(e + 1) % 4, e];
    const xi = cx + CX[ia];
    const yi = cy + CY[ia];
    const xo = cx + CX[ib];
    const yo = cy + CY[ib];
    const outsideImage = xo < 0 || yo < 0 || xo >= w || yo >= h;
    let t = outsideImage ? 0.5 : spec.crossing(yi * w + xi, yo * w + xo);
    if (!outsideImage) t = Number.isFinite(t) ? Math.min(1 - T_MIN, Math.max(T_MIN, t)) : 0.5;
    return newSlot(xi + 0.5 + t * (xo - xi), yi + 0.5 + t * (yo - yi), yi * w + xi);
  };

  const addSegment = (cx: number, cy: number, e1: number, e2: number) => {
    const p = edgeSlot[e1];
    const q = edgeSlot[e2];
    // Corner r ends edge e1, so it is strictly on one side of the segment p-q.
    const r = (e1 + 1) % 4;
    const rx = cx + CX[r] + 0.5;
    const ry = cy + CY[r] + 0.5;
    const cross = (xs[q] - xs[p]) * (ry - ys[p]) - (ys[q] - ys[p]) * (rx - xs[p]);
    const [from, to] = cross > 0 === cornerIn[r] ? [p, q] : [q, p];
    next[from] = to;
    // A corner padding cell whose one real corner is inside: go round the image corner (its centre).
    if ((cx === -1 || cx === w - 1) && (cy === -1 || cy === h - 1) && cornerIn.filter(Boolean).length === 1)
      via.set(from, [cx + 1, cy + 1]);
  };

  for (let cy = -1; cy < h; cy++) {
    let left = -1;
    for (let cx = -1; cx < w; cx++) {
      let code = 0;
      for (let k = 0; k < 4; k++) {
        cornerIn[k] = isIn(cx + CX[k], cy + CY[k]);
        if (cornerIn[k]) code |= 1 << k;
      }
      if (code === 0 || code === 15) {
        left = -1;
        thisRow[cx + 1] = -1;
        continue;
      }
      edgeSlot[0] = aboveRow[cx + 1];
      edgeSlot[1] = cornerIn[1] !== cornerIn[2] ? crossingSlot(cx, cy, 1) : -1;
      edgeSlot[2] = cornerIn[2] !== cornerIn[3] ? crossingSlot(cx, cy, 2) : -1;
      edgeSlot[3] = left;
      left = edgeSlot[1];
      thisRow[cx + 1] = edgeSlot[2];
      const crossed: number[] = [];
      for (let e = 0; e < 4; e++) if (edgeSlot[e] >= 0) crossed.push(e);
      if (crossed.length === 2) {
        addSegment(cx, cy, crossed[0], crossed[1]);
        continue;
      }
      if (crossed.length !== 4) throw new Error('traceRings: inconsistent crossings (bug)');
      // Saddle: only real cells can be one (a padding cell has two adjacent outside corners).
      const tl = cy * w + cx;
      const join = spec.joinSaddle(tl, tl + 1, tl + w + 1, tl + w);
      if (join) union(parent, cornerIn[0] ? tl : tl + 1, cornerIn[0] ? tl + w + 1 : tl + w);
      for (let k = 0; k < 4; k++) {
        // Cut off the corners that are not joined: outside ones when joining, inside ones otherwise.
        if (cornerIn[k] !== join) addSegment(cx, cy, (k + 3) % 4, k);
      }
    }
    [aboveRow, thisRow] = [thisRow, aboveRow];
  }

  const rings: TracedRing[] = [];
  const done = new Uint8Array(count);
  for (let start = 0; start < count; start++) {
    if (done[start]) continue;
    const ring: Ring = [];
    let e = start;
    do {
      if (e < 0 || done[e]) throw new Error('traceRings: open contour (bug)');
      done[e] = 1;
      ring.push([xs[e], ys[e]]);
      const v = via.get(e);
      if (v) ring.push(v);
      e = next[e];
    } while (e !== start);
    rings.push({ ring: dropCollinear(ring), region: root(parent, pix[start]) });
  }
  return rings;
}

/** Assemble traced rings into polygons: per region, its one exterior ring and its holes. */
export function assemblePolygons(rings: TracedRing[]): Polygon[] {
  const byRegion = new Map<number, Polygon>();
  const holes: TracedRing[] = [];
  for (const r of rings) {
    if (signedArea(r.ring) < 0) {
      holes.push(r);
      continue;
    }
    if (byRegion.has(r.region)) throw new Error('assemblePolygons: two exterior rings for one region (bug)');
    byRegion.set(r.region, { exterior: r.ring, holes: [] });
  }
  for (const hole of holes) {
    const poly = byRegion.get(hole.region);
    if (!poly) throw new Error('assemblePolygons: a hole without its exterior ring (bug)');
    poly.holes.push(hole.ring);
  }
  return [...byRegion.values()];
}

/**
 * Polygons of the region where `field` (one value per pixel, row-major) is above `level`:
 * crossings at the linear-interpolation zero, saddles joined when the 4-corner mean is above.
 */
export function isoPolygons(field: ArrayLike<number>, width: number, height: number, level = 0): Polygon[] {
  const inside = new Uint8Array(width * height);
  for (let i = 0; i < inside.length; i++) inside[i] = field[i] > level ? 1 : 0;
  return assemblePolygons(
    traceRings({
      width,
      height,
      inside,
      crossing: (a, b) => (field[a] - level) / (field[a] - field[b]),
      joinSaddle: (a, b, c, d) => (field[a] + field[b] + field[c] + field[d]) / 4 > level,
    }),
  );
}

/** The polygons of one class. */
export interface ClassPolygons {
  classIndex: number;
  polygons: Polygon[];
}

/**
 * The frontier per allowed class, from HWC probabilities and the predicted classes (argmax
 * over `allowed`).
 *
 * Which pixel centres are inside class c: those predicted c, so polygons agree with the
 * written label mask at every pixel. Where the boundary crosses an edge between a pixel of
 * class c and one of class d: at the zero of p_c - p_d interpolated linearly along the edge,
 * the frontier between the two most likely classes; classes c and d get the very same
 * crossing, so neighbouring polygons share their frontier. Saddles of class c: joined when
 * the 4-corner mean of f_c = p_c - max over other allowed classes of p is positive (f_c is
 * zero where c ties the runner-up). At each pixel f_c + f_d <= 0, so two classes can never both
 * join one cell and polygons of different classes never overlap. With two classes this is
 * exactly marching squares on p_1 at 0.5 with the mean saddle rule.
 */
export function frontierPolygons(
  probs: Float32Array,
  width: number,
  height: number,
  numClasses: number,
  classes: Uint8Array,
  allowed: readonly number[],
): ClassPolygons[] {
  const k = numClasses;
  const n = width * height;
  if (probs.length !== n * k || classes.length !== n)
    throw new Error(`frontierPolygons: ${probs.length} scores and ${classes.length} classes for ${width}x${height}x${k}`);
  const out: ClassPolygons[] = [];
  for (const c of allowed) {
    const inside = new Uint8Array(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      if (classes[i] !== c) continue;
      inside[i] = 1;
      any = true;
    }
    if (!any) {
      out.push({ classIndex: c, polygons: [] });
      continue;
    }
    const margin = (i: number) => {
      let other = -Infinity;
      for (const o of allowed) if (o !== c && probs[i * k + o] > other) other = probs[i * k + o];
      return other === -Infinity ? 1 : probs[i * k + c] - other;
    };
    const rings = traceRings({
      width,
      height,
      inside,
      crossing: (a, b) => {
        const d = classes[b];
        const ga = probs[a * k + c] - probs[a * k + d];
        const gb = probs[b * k + c] - probs[b * k + d];
        return ga - gb > 0 ? ga / (ga - gb) : 0.5;
      },
      joinSaddle: (a, b, cc, d) => margin(a) + margin(b) + margin(cc) + margin(d) > 0,
    });
    out.push({ classIndex: c, polygons: assemblePolygons(rings) });
  }
  return out;
}

/** Default top-probability threshold of the uncertainty band. */
export const DEFAULT_UNCERTAINTY = 0.9;

/**
 * The uncertainty band: 255 where the probability of the predicted class (the top allowed
 * probability) is below `threshold`, 0 elsewhere.
 */
export function uncertaintyMask(probs: Float32Array, numClasses: number, classes: Uint8Array, threshold = DEFAULT_UNCERTAINTY): Uint8Array {
  const out = new Uint8Array(classes.length);
  for (let i = 0; i < classes.length; i++) out[i] = probs[i * numClasses + classes[i]] < threshold ? 255 : 0;
  return out;
}
