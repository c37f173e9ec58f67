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

/**
 * Marching squares over the padded grid of pixel centres: the closed rings bounding the
 * inside region, oriented with the region on the left (positive area for exteriors).
 */
export function traceRings(spec: ContourSpec): Ring[] {
  const { width: w, height: h, inside } = spec;
  if (inside.length !== w * h) throw new Error(`traceRings: mask has ${inside.length} values for ${w}x${h}`);
  const pw = w + 2;
  const isIn = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && inside[y * w + x] === 1;
  // Edge ids: horizontal edge from node (x, y) to (x+1, y) = 2 * node, vertical to (x, y+1) = 2 * node + 1.
  const node = (x: number, y: number) => (y + 1) * pw + (x + 1);
  const points = new Map<number, XY>();
  const succ = new Map<number, number>();
  const via = new Map<number, XY>();
  // Corner offsets of a cell: TL, TR, BR, BL; edge e joins corner e and corner (e+1)%4.
  const CX = [0, 1, 1, 0];
  const CY = [0, 0, 1, 1];
  const cornerIn = [false, false, false, false];
  const edgeId = (cx: number, cy: number, e: number) =>
    e === 0 ? 2 * node(cx, cy) : e === 1 ? 2 * node(cx + 1, cy) + 1 : e === 2 ? 2 * node(cx, cy + 1) : 2 * node(cx, cy) + 1;

  const edgePoint = (cx: number, cy: number, e: number): XY => {
    const id = edgeId(cx, cy, e);
    const known = points.get(id);
    if (known) return known;
    const a = e;
    const b = (e + 1) % 4;
    const [ia, ib] = cornerIn[a] ? [a, b] : [b, a];
    const xi = cx + CX[ia];
    const yi = cy + CY[ia];
    const xo = cx + CX[ib];
    const yo = cy + CY[ib];
    const outsideImage = xo < 0 || yo < 0 || xo >= w || yo >= h;
    let t = outsideImage ? 0.5 : spec.crossing(yi * w + xi, yo * w + xo);
    if (!outsideImage) t = Number.isFinite(t) ? Math.min(1 - T_MIN, Math.max(T_MIN, t)) : 0.5;
    const p: XY = [xi + 0.5 + t * (xo - xi), yi + 0.5 + t * (yo - yi)];
    points.set(id, p);
    return p;
  };

  const addSegment = (cx: number, cy: number, e1: number, e2: number) => {
    const p = edgePoint(cx, cy, e1);
    const q = edgePoint(cx, cy, e2);
    // Corner r ends edge e1, so it is strictly on one side of the segment p-q.
    const r = (e1 + 1) % 4;
    const rx = cx + CX[r] + 0.5;
    const ry = cy + CY[r] + 0.5;
    const cross = (q[0] - p[0]) * (ry - p[1]) - (q[1] - p[1]) * (rx - p[0]);
    const [from, to] = cross > 0 === cornerIn[r] ? [e1, e2] : [e2, e1];
    const fromId = edgeId(cx, cy, from);
    succ.set(fromId, edgeId(cx, cy, to));
    // A corner padding cell whose one real corner is inside: go round the image corner (its centre).
    if ((cx === -1 || cx === w - 1) && (cy === -1 || cy === h - 1)) {
      const real = cornerIn.filter(Boolean).length === 1 && (e2 - e1 + 4) % 4 !== 2;
      if (real) via.set(fromId, [cx + 1, cy + 1]);
    }
  };

  for (let cy = -1; cy < h; cy++) {
    for (let cx = -1; cx < w; cx++) {
      let code = 0;
      for (let k = 0; k < 4; k++) {
        cornerIn[k] = isIn(cx + CX[k], cy + CY[k]);
        if (cornerIn[k]) code |= 1 << k;
      }
      if (code === 0 || code === 15) continue;
      const crossed: number[] = [];
      for (let e = 0; e < 4; e++) if (cornerIn[e] !== cornerIn[(e + 1) % 4]) crossed.push(e);
      if (crossed.length === 2) {
        addSegment(cx, cy, crossed[0], crossed[1]);
        continue;
      }
      // Saddle: only real cells can be one (a padding cell has two adjacent outside corners).
      const tl = cy * w + cx;
      const join = spec.joinSaddle(tl, tl + 1, tl + w + 1, tl + w);
      for (let k = 0; k < 4; k++) {
        // Cut off the corners that are not joined: outside ones when joining, inside ones otherwise.
        if (cornerIn[k] !== join) addSegment(cx, cy, (k + 3) % 4, k);
      }
    }
  }

  const rings: Ring[] = [];
  for (const start of [...succ.keys()]) {
    if (!succ.has(start)) continue;
    const ring: Ring = [];
    let e = start;
    do {
      ring.push(points.get(e) as XY);
      const v = via.get(e);
      if (v) ring.push(v);
      const next = succ.get(e);
      if (next === undefined) throw new Error('traceRings: open contour (bug)');
      succ.delete(e);
      e = next;
    } while (e !== start);
    rings.push(dropCollinear(ring));
  }
  return rings;
}

function bbox(ring: Ring): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of ring) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

/** Assemble oriented rings into polygons: each hole goes to the smallest exterior containing it. */
export function polygonsFromRings(rings: Ring[]): Polygon[] {
  const ext = rings.map((r) => ({ ring: r, area: signedArea(r), box: bbox(r) })).filter((r) => r.area > 0);
  const polys: Polygon[] = ext.map((e) => ({ exterior: e.ring, holes: [] }));
  for (const ring of rings) {
    if (signedArea(ring) >= 0) continue;
    const [x, y] = ring[0];
    let best = -1;
    for (let i = 0; i < ext.length; i++) {
      const [x0, y0, x1, y1] = ext[i].box;
      if (x < x0 || x > x1 || y < y0 || y > y1) continue;
      if ((best < 0 || ext[i].area < ext[best].area) && pointInRing(x, y, ext[i].ring)) best = i;
    }
    if (best < 0) throw new Error('polygonsFromRings: a hole lies in no exterior ring (rings not from one region?)');
    polys[best].holes.push(ring);
  }
  return polys;
}

/**
 * Polygons of the region where `field` (one value per pixel, row-major) is above `level`:
 * crossings at the linear-interpolation zero, saddles joined when the 4-corner mean is above.
 */
export function isoPolygons(field: ArrayLike<number>, width: number, height: number, level = 0): Polygon[] {
  const inside = new Uint8Array(width * height);
  for (let i = 0; i < inside.length; i++) inside[i] = field[i] > level ? 1 : 0;
  return polygonsFromRings(
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
export function frontierPolygons(probs: Float32Array, width: number, height: number, numClasses: number, classes: Uint8Array, allowed: readonly number[]): ClassPolygons[] {
  const k = numClasses;
  const n = width * height;
  if (probs.length !== n * k || classes.length !== n) throw new Error(`frontierPolygons: ${probs.length} scores and ${classes.length} classes for ${width}x${height}x${k}`);
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
    out.push({ classIndex: c, polygons: polygonsFromRings(rings) });
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
