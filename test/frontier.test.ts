/**
 * Frontier contours on hand-made shapes: a disc (length and area), a square with a square
 * hole, touching blobs, shapes on the image border, checkerboard saddles and random fields.
 * Every case checks that rings never cross or touch, and that the polygons contain exactly
 * the inside pixel centres; then the SVG and GeoJSON round-trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  frontierPolygons,
  isoPolygons,
  pointInPolygon,
  ringLength,
  signedArea,
  uncertaintyMask,
  type Polygon,
  type Ring,
  type XY,
} from '../src/predict/frontier.js';
import { frontierGeoJson, frontierSvg, type FrontierLayer } from '../src/predict/frontierFormats.js';
import { writeFrontierOutputs } from '../src/predict/frontierOutputs.js';
import { argmaxAllowed, planesOf } from '../src/predict/forbid.js';
import { readLabel } from '../src/data/decode.js';
import { makeRng } from '../src/util/random.js';
import { tmpDir } from './helpers.js';

// ---- geometry checks -------------------------------------------------------------------

function orient(a: XY, b: XY, c: XY): number {
  const v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

function onSegment(a: XY, b: XY, p: XY): boolean {
  return Math.min(a[0], b[0]) <= p[0] && p[0] <= Math.max(a[0], b[0]) && Math.min(a[1], b[1]) <= p[1] && p[1] <= Math.max(a[1], b[1]);
}

/** Whether closed segments a-b and c-d share any point (touching and collinear overlap count). */
function segmentsMeet(a: XY, b: XY, c: XY, d: XY): boolean {
  const o1 = orient(a, b, c);
  const o2 = orient(a, b, d);
  const o3 = orient(c, d, a);
  const o4 = orient(c, d, b);
  if (o1 !== o2 && o3 !== o4) return true;
  return (
    (o1 === 0 && onSegment(a, b, c)) ||
    (o2 === 0 && onSegment(a, b, d)) ||
    (o3 === 0 && onSegment(c, d, a)) ||
    (o4 === 0 && onSegment(c, d, b))
  );
}

/**
 * Pairs of edges that meet, over all rings, other than consecutive edges of one ring at their
 * shared vertex. Zero means every ring is simple and no two rings touch.
 */
function intersections(rings: Ring[]): number {
  const segs: { a: XY; b: XY; ring: number; i: number; n: number; box: number[] }[] = [];
  rings.forEach((r, ri) => {
    for (let i = 0; i < r.length; i++) {
      const a = r[i];
      const b = r[(i + 1) % r.length];
      segs.push({
        a,
        b,
        ring: ri,
        i,
        n: r.length,
        box: [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])],
      });
    }
  });
  segs.sort((s, t) => s.box[0] - t.box[0]);
  let bad = 0;
  for (let p = 0; p < segs.length; p++) {
    const s = segs[p];
    for (let q = p + 1; q < segs.length && segs[q].box[0] <= s.box[2]; q++) {
      const t = segs[q];
      if (t.box[1] > s.box[3] || t.box[3] < s.box[1]) continue;
      if (s.ring === t.ring && ((s.i + 1) % s.n === t.i || (t.i + 1) % t.n === s.i)) {
        // Neighbours share one vertex; they must not overlap beyond it.
        if (s.n > 2 && orient(s.a, s.b, t.a) === 0 && orient(s.a, s.b, t.b) === 0) {
          const shared = (s.i + 1) % s.n === t.i ? s.b : s.a;
          const other = shared === s.b ? t.b : t.a;
          const back = shared === s.b ? s.a : s.b;
          if ((other[0] - shared[0]) * (back[0] - shared[0]) + (other[1] - shared[1]) * (back[1] - shared[1]) > 0) bad++;
        }
        continue;
      }
      if (segmentsMeet(s.a, s.b, t.a, t.b)) bad++;
    }
  }
  return bad;
}

function allRings(polys: Polygon[]): Ring[] {
  return polys.flatMap((p) => [p.exterior, ...p.holes]);
}

/** 1 where a pixel centre lies in one of the polygons. */
function rasterise(polys: Polygon[], w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = polys.some((p) => pointInPolygon(x + 0.5, y + 0.5, p)) ? 1 : 0;
  return out;
}

/** Pixels where the rasterised polygons differ from the mask. */
function mismatches(polys: Polygon[], mask: ArrayLike<number>, w: number, h: number): number {
  const r = rasterise(polys, w, h);
  let n = 0;
  for (let i = 0; i < w * h; i++) if (r[i] !== (mask[i] ? 1 : 0)) n++;
  return n;
}

/** Check the invariants every contour set must hold. */
function checkSound(polys: Polygon[], mask: ArrayLike<number>, w: number, h: number): void {
  assert.equal(intersections(allRings(polys)), 0, 'rings cross or touch');
  for (const p of polys) {
    assert.ok(signedArea(p.exterior) > 0, 'exterior with non-positive area');
    for (const hole of p.holes) {
      assert.ok(signedArea(hole) < 0, 'hole with non-negative area');
      assert.ok(
        hole.every(([x, y]) => pointInPolygon(x, y, { exterior: p.exterior, holes: [] })),
        'hole outside its exterior',
      );
    }
    for (const [x, y] of allRings([p]).flat()) assert.ok(x >= 0 && y >= 0 && x <= w && y <= h, `vertex (${x}, ${y}) outside the image`);
  }
  assert.equal(mismatches(polys, mask, w, h), 0, 'polygons do not contain exactly the inside pixel centres');
}

function fieldOf(w: number, h: number, f: (x: number, y: number) => number): Float64Array {
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = f(x + 0.5, y + 0.5);
  return out;
}

function maskOf(field: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(Array.from(field, (v) => (v > 0 ? 1 : 0)));
}

// ---- shapes ------------------------------------------------------------------------------

test('a disc: one exterior ring of length 2 pi r and area pi r^2, vertices on the circle', () => {
  const [w, h, r, cx, cy] = [64, 64, 20, 32.3, 31.7];
  const field = fieldOf(w, h, (x, y) => r - Math.hypot(x - cx, y - cy));
  const polys = isoPolygons(field, w, h);
  assert.equal(polys.length, 1);
  assert.equal(polys[0].holes.length, 0);
  const ring = polys[0].exterior;
  assert.ok(Math.abs(signedArea(ring) / (Math.PI * r * r) - 1) < 0.005, `area ${signedArea(ring)} vs ${Math.PI * r * r}`);
  assert.ok(Math.abs(ringLength(ring) / (2 * Math.PI * r) - 1) < 0.005, `length ${ringLength(ring)} vs ${2 * Math.PI * r}`);
  const off = Math.max(...ring.map(([x, y]) => Math.abs(Math.hypot(x - cx, y - cy) - r)));
  assert.ok(off < 0.02, `a vertex is ${off} px off the circle`);
  checkSound(polys, maskOf(field), w, h);
});

test('a square with a square hole: one exterior and one hole of opposite orientation, exact areas', () => {
  const [w, h] = [48, 48];
  const inSquare = (x: number, y: number, a: number, b: number) => x > a && x < b && y > a && y < b;
  const field = fieldOf(w, h, (x, y) => (inSquare(x, y, 8, 40) && !inSquare(x, y, 18, 30) ? 1 : -1));
  const polys = isoPolygons(field, w, h);
  assert.equal(polys.length, 1);
  assert.equal(polys[0].holes.length, 1);
  // Binary field: the contour runs along pixel edges, cutting each corner by half a pixel's triangle (1/8).
  assert.equal(signedArea(polys[0].exterior), 32 * 32 - 4 / 8);
  assert.equal(signedArea(polys[0].holes[0]), -(12 * 12 - 4 / 8));
  checkSound(polys, maskOf(field), w, h);
});

test('an island inside the hole becomes its own polygon, with its own hole', () => {
  const [w, h] = [30, 30];
  const ring = (x: number, y: number) => Math.max(Math.abs(x - 15), Math.abs(y - 15));
  const field = fieldOf(w, h, (x, y) => (ring(x, y) < 13 && (ring(x, y) > 9 || (ring(x, y) < 6 && ring(x, y) > 2)) ? 1 : -1));
  const polys = isoPolygons(field, w, h);
  assert.equal(polys.length, 2);
  const [outer, island] = [...polys].sort((a, b) => signedArea(b.exterior) - signedArea(a.exterior));
  assert.equal(outer.holes.length, 1);
  assert.equal(island.holes.length, 1);
  assert.ok(signedArea(island.exterior) < Math.abs(signedArea(outer.holes[0])));
  assert.ok(Math.abs(signedArea(island.holes[0])) < 25);
  checkSound(polys, maskOf(field), w, h);
});

test('two touching blobs of one class merge into one ring; separate blobs stay two', () => {
  const [w, h, r] = [60, 40, 10];
  const blobs = (gap: number) =>
    fieldOf(w, h, (x, y) => Math.max(r - Math.hypot(x - 30 + r + gap / 2, y - 20), r - Math.hypot(x - 30 - r - gap / 2, y - 20)));
  const touching = isoPolygons(blobs(-1), w, h);
  assert.equal(touching.length, 1);
  checkSound(touching, maskOf(blobs(-1)), w, h);
  const apart = isoPolygons(blobs(3), w, h);
  assert.equal(apart.length, 2);
  checkSound(apart, maskOf(blobs(3)), w, h);
});

test('two blobs of different classes touching: polygons share the frontier and never overlap', () => {
  const [w, h, k] = [48, 32, 3];
  const probs = new Float32Array(w * h * k);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      const logits = [0, 3 * (11 - Math.hypot(px - 14.2, py - 16)), 3 * (11 - Math.hypot(px - 33.7, py - 15.1))];
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      const s = e[0] + e[1] + e[2];
      for (let c = 0; c < k; c++) probs[(y * w + x) * k + c] = e[c] / s;
    }
  }
  const allowed = [0, 1, 2];
  const classes = argmaxAllowed(planesOf(probs, w * h, k), allowed, w * h);
  assert.ok(classes.includes(1) && classes.includes(2));
  const per = frontierPolygons(probs, w, h, k, classes, allowed);
  assert.deepEqual(
    per.map((p) => p.classIndex),
    [0, 1, 2],
  );
  for (const p of per)
    checkSound(
      p.polygons,
      Array.from(classes, (v) => (v === p.classIndex ? 1 : 0)),
      w,
      h,
    );
  // No point of the image (sampled finely, off the contours) lies in two classes; almost every point lies in one.
  let overlap = 0;
  let none = 0;
  for (let y = 0.13; y < h; y += 0.25) {
    for (let x = 0.11; x < w; x += 0.25) {
      const n = per.filter((p) => p.polygons.some((q) => pointInPolygon(x, y, q))).length;
      if (n > 1) overlap++;
      if (n === 0) none++;
    }
  }
  assert.equal(overlap, 0);
  assert.ok(none < 10, `${none} sample points in no class`);
  // Blob 1 and blob 2 share frontier vertices (within rounding).
  const key = ([x, y]: XY) => `${x.toFixed(6)},${y.toFixed(6)}`;
  const v1 = new Set(allRings(per[1].polygons).flat().map(key));
  const shared = allRings(per[2].polygons)
    .flat()
    .filter((p) => v1.has(key(p))).length;
  assert.ok(shared >= 5, `only ${shared} shared frontier vertices`);
});

test('shapes on the image border are closed along it, with the image corners as vertices', () => {
  const [w, h] = [20, 12];
  const full = isoPolygons(new Float64Array(w * h).fill(1), w, h);
  assert.equal(full.length, 1);
  assert.equal(signedArea(full[0].exterior), w * h);
  assert.deepEqual(
    [...full[0].exterior].sort((a, b) => a[0] - b[0] || a[1] - b[1]),
    [
      [0, 0],
      [0, h],
      [w, 0],
      [w, h],
    ],
  );
  const left = fieldOf(w, h, (x) => (x < 10 ? 1 : -1));
  const lp = isoPolygons(left, w, h);
  assert.equal(lp.length, 1);
  assert.equal(signedArea(lp[0].exterior), 10 * h - 2 / 8);
  checkSound(lp, maskOf(left), w, h);
  // A disc cut by the corner and a band touching two sides.
  const corner = fieldOf(w, h, (x, y) => 7 - Math.hypot(x - 1, y - 2));
  checkSound(isoPolygons(corner, w, h), maskOf(corner), w, h);
  const frame = fieldOf(w, h, (x, y) => (Math.min(x, y, w - x, h - y) < 3 ? 1 : -1));
  const fp = isoPolygons(frame, w, h);
  assert.equal(fp.length, 1);
  assert.equal(fp[0].holes.length, 1);
  checkSound(fp, maskOf(frame), w, h);
  // One-pixel images and one-pixel-wide strips.
  checkSound(isoPolygons([1], 1, 1), [1], 1, 1);
  assert.equal(signedArea(isoPolygons([1], 1, 1)[0].exterior), 1);
  const strip = [1, -1, 1, 1, -1];
  checkSound(isoPolygons(strip, 1, 5), maskOf(strip), 1, 5);
  checkSound(isoPolygons(strip, 5, 1), maskOf(strip), 5, 1);
});

test('checkerboard saddles follow the mean of the four corners', () => {
  // Mean exactly at the level: separated.
  assert.equal(isoPolygons([1, -1, -1, 1], 2, 2).length, 2);
  // Mean above: the two inside pixels are joined into one ring.
  const joined = isoPolygons([1, -0.5, -0.5, 1], 2, 2);
  assert.equal(joined.length, 1);
  checkSound(joined, [1, 0, 0, 1], 2, 2);
  // Mean below: separated.
  const apart = isoPolygons([0.5, -1, -1, 0.5], 2, 2);
  assert.equal(apart.length, 2);
  checkSound(apart, [1, 0, 0, 1], 2, 2);
  // A whole checkerboard, both ways.
  const n = 8;
  const cb = (hi: number, lo: number) => fieldOf(n, n, (x, y) => ((Math.floor(x) + Math.floor(y)) % 2 === 0 ? hi : lo));
  const separate = isoPolygons(cb(1, -1), n, n);
  assert.equal(separate.length, (n * n) / 2);
  checkSound(separate, maskOf(cb(1, -1)), n, n);
  const linked = isoPolygons(cb(1, -0.9), n, n);
  assert.equal(linked.length, 1);
  // Inner outside squares become holes; those on the border open onto the outside.
  assert.equal(linked[0].holes.length, 18);
  checkSound(linked, maskOf(cb(1, -0.9)), n, n);
});

test('values exactly at the level keep contours off pixel centres', () => {
  // The zero pixel is outside; unclamped crossings would put a degenerate hole on its centre.
  const dip = [1, 1, 1, 1, 0, 1, 1, 1, 1];
  const polys = isoPolygons(dip, 3, 3);
  assert.equal(polys.length, 1);
  assert.equal(polys[0].holes.length, 1);
  assert.ok(Math.abs(signedArea(polys[0].holes[0])) > 1e-4);
  checkSound(polys, maskOf(dip), 3, 3);
  const ties = fieldOf(9, 7, (x, y) => Math.round(Math.sin(x) * 2 + Math.cos(y * 1.3)));
  checkSound(isoPolygons(ties, 9, 7), maskOf(ties), 9, 7);
});

test('random fields and random three-class probabilities give sound contours', () => {
  const rng = makeRng(7);
  for (let trial = 0; trial < 6; trial++) {
    const [w, h] = [23 + trial * 3, 17 + trial];
    const waves = Array.from({ length: 4 }, () => [rng.next() * 0.8, rng.next() * 0.8, rng.next() * 6, rng.next() - 0.5]);
    const field = fieldOf(
      w,
      h,
      (x, y) => waves.reduce((s, [a, b, c, d]) => s + Math.sin(a * x + b * y + c) + d, 0) + 0.3 * (rng.next() - 0.5),
    );
    checkSound(isoPolygons(field, w, h), maskOf(field), w, h);
  }
  const [w, h, k] = [25, 19, 3];
  const probs = new Float32Array(w * h * k);
  for (let i = 0; i < w * h; i++) {
    const e = [0, 1, 2].map(() => Math.exp(2 * rng.next()));
    for (let c = 0; c < k; c++) probs[i * k + c] = e[c] / (e[0] + e[1] + e[2]);
  }
  for (const allowed of [
    [0, 1, 2],
    [0, 2],
  ]) {
    const classes = argmaxAllowed(planesOf(probs, w * h, k), allowed, w * h);
    const per = frontierPolygons(probs, w, h, k, classes, allowed);
    assert.deepEqual(
      per.map((p) => p.classIndex),
      allowed,
    );
    for (const p of per)
      checkSound(
        p.polygons,
        Array.from(classes, (v) => (v === p.classIndex ? 1 : 0)),
        w,
        h,
      );
  }
});

test('two classes: the frontier is the 0.5 contour of p1', () => {
  const [w, h] = [30, 24];
  const p1 = fieldOf(w, h, (x, y) => 1 / (1 + Math.exp(-(8 - Math.hypot(x - 14, y - 11)))));
  const probs = new Float32Array(w * h * 2);
  for (let i = 0; i < w * h; i++) {
    probs[2 * i] = 1 - p1[i];
    probs[2 * i + 1] = p1[i];
  }
  const classes = argmaxAllowed(planesOf(probs, w * h, 2), [0, 1], w * h);
  const [bg, fg] = frontierPolygons(probs, w, h, 2, classes, [0, 1]);
  const iso = isoPolygons(Float64Array.from(probs.filter((_, j) => j % 2 === 1)), w, h, 0.5);
  assert.equal(fg.polygons.length, 1);
  assert.equal(iso.length, 1);
  assert.ok(Math.abs(signedArea(fg.polygons[0].exterior) - signedArea(iso[0].exterior)) < 1e-4);
  // The background is the image minus the blob: its hole is the blob's ring reversed.
  assert.equal(bg.polygons.length, 1);
  assert.equal(bg.polygons[0].holes.length, 1);
  assert.ok(Math.abs(signedArea(bg.polygons[0].holes[0]) + signedArea(fg.polygons[0].exterior)) < 1e-4);
  assert.ok(Math.abs(signedArea(bg.polygons[0].exterior) - w * h) < 1e-9);
});

test('uncertainty band: pixels whose top probability is below the threshold', () => {
  const probs = Float32Array.from([0.95, 0.05, 0.6, 0.4, 0.3, 0.7, 0.02, 0.98]);
  const classes = argmaxAllowed(planesOf(probs, 4, 2), [0, 1], 4);
  assert.deepEqual([...uncertaintyMask(probs, 2, classes, 0.9)], [0, 255, 255, 0]);
  assert.deepEqual([...uncertaintyMask(probs, 2, classes, 0.65)], [0, 255, 0, 0]);
  // With class 1 forbidden, pixel 3's predicted class is 0 at probability 0.02: uncertain.
  const only0 = argmaxAllowed(planesOf(probs, 4, 2), [0], 4);
  assert.deepEqual([...uncertaintyMask(probs, 2, only0, 0.9)], [0, 255, 255, 255]);
});

// ---- file formats ------------------------------------------------------------------------

function squareWithHoleLayers(): { layers: FrontierLayer[]; w: number; h: number; mask: Uint8Array } {
  const [w, h] = [24, 20];
  const field = fieldOf(w, h, (x, y) => {
    const d = Math.max(Math.abs(x - 11.3), Math.abs(y - 9.8));
    return d < 8.2 && d > 3.4 ? 1 : -1;
  });
  const mask = maskOf(field);
  const neg = Float64Array.from(field, (v) => -v);
  return {
    w,
    h,
    mask,
    layers: [
      { name: 'back & <ground>', value: 0, color: [0, 0, 0], polygons: isoPolygons(neg, w, h) },
      { name: 'smoke', value: 255, color: [230, 25, 75], polygons: isoPolygons(field, w, h) },
      { name: 'absent', value: 7, color: [0, 0, 200], polygons: [] },
    ],
  };
}

test('GeoJSON: one MultiPolygon per class, closed rings, right-hand rule, rasterises to the mask', () => {
  const { layers, w, h, mask } = squareWithHoleLayers();
  const geo = JSON.parse(JSON.stringify(frontierGeoJson(layers, w, h, 'img.png')));
  assert.equal(geo.type, 'FeatureCollection');
  assert.equal(geo.features.length, 3);
  assert.deepEqual(
    geo.features.map((f: { properties: unknown }) => f.properties),
    [
      { class: 'back & <ground>', value: 0 },
      { class: 'smoke', value: 255 },
      { class: 'absent', value: 7 },
    ],
  );
  assert.deepEqual(geo.features[2].geometry, { type: 'MultiPolygon', coordinates: [] });
  const smoke = geo.features[1].geometry;
  assert.equal(smoke.type, 'MultiPolygon');
  assert.equal(smoke.coordinates.length, 1);
  assert.equal(smoke.coordinates[0].length, 2);
  for (const f of geo.features) {
    for (const poly of f.geometry.coordinates as XY[][][]) {
      poly.forEach((ring, i) => {
        assert.ok(ring.length >= 4);
        assert.deepEqual(ring[0], ring[ring.length - 1], 'ring not closed');
        const area = signedArea(ring.slice(0, -1));
        assert.ok(i === 0 ? area > 0 : area < 0, 'exterior must be counter-clockwise (positive), holes clockwise');
      });
    }
  }
  // The rounded coordinates still contain exactly the inside pixel centres.
  const polys: Polygon[] = (smoke.coordinates as XY[][][]).map((p) => ({
    exterior: p[0].slice(0, -1),
    holes: p.slice(1).map((r) => r.slice(0, -1)),
  }));
  assert.equal(mismatches(polys, mask, w, h), 0);
});

test('SVG: image-sized, one path per drawn class, subpaths round-trip the rings, names escaped', () => {
  const { layers, w, h } = squareWithHoleLayers();
  const svg = frontierSvg(layers, w, h, { imageHref: '../img dir/a&b.png' });
  assert.match(svg, new RegExp(`<svg [^>]*width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"`));
  assert.match(svg, /<image [^>]*href="..\/img dir\/a&amp;b.png"/);
  assert.ok(svg.includes('data-class="back &amp; &lt;ground&gt;"'));
  const paths = [...svg.matchAll(/<path [^>]*d="([^"]*)"/g)].map((m) => m[1]);
  assert.equal(paths.length, 2, 'the empty class draws nothing');
  const sub = paths[1]
    .split('Z')
    .filter(Boolean)
    .map((s) =>
      s
        .slice(1)
        .split('L')
        .map((p) => p.split(' ').map(Number) as XY),
    );
  const rings = allRings(layers[1].polygons);
  assert.equal(sub.length, rings.length);
  sub.forEach((pts, i) => {
    assert.equal(pts.length, rings[i].length);
    pts.forEach((p, j) => assert.ok(Math.abs(p[0] - rings[i][j][0]) <= 5e-4 && Math.abs(p[1] - rings[i][j][1]) <= 5e-4));
  });
  assert.equal(svg.match(/</g)?.length, svg.match(/>/g)?.length);
  assert.ok(!/<svg[\s\S]*<svg/.test(svg));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
});

test('writeFrontierOutputs writes svg, geojson and the uncertainty PNG', async () => {
  const dir = tmpDir();
  const [w, h] = [16, 12];
  const probs = new Float32Array(w * h * 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = 1 / (1 + Math.exp(-(x - 7.3)));
      probs[(y * w + x) * 2] = 1 - p;
      probs[(y * w + x) * 2 + 1] = p;
    }
  }
  const classes = argmaxAllowed(planesOf(probs, w * h, 2), [0, 1], w * h);
  const written = await writeFrontierOutputs({
    outDir: dir,
    name: 'one',
    imageFile: path.join(dir, 'images', 'one.jpg'),
    pred: { width: w, height: h, numClasses: 2, probs, classes },
    classes: [
      { name: 'background', value: 0, color: [0, 0, 0] },
      { name: 'smoke', value: 255, color: [230, 25, 75] },
    ],
    allowed: [0, 1],
    frontier: true,
    uncertainty: 0.9,
  });
  assert.deepEqual(written.map((f) => path.relative(dir, f)).sort(), ['frontier/one.geojson', 'frontier/one.svg', 'uncertainty/one.png']);
  assert.match(fs.readFileSync(path.join(dir, 'frontier', 'one.svg'), 'utf8'), /href="..\/images\/one.jpg"/);
  const geo = JSON.parse(fs.readFileSync(path.join(dir, 'frontier', 'one.geojson'), 'utf8'));
  const smoke = geo.features[1].geometry.coordinates as XY[][][];
  assert.equal(smoke.length, 1);
  // A vertical frontier at p = 0.5, i.e. x = 7.3 + 0.5 (pixel centres are at x + 0.5).
  const xs = smoke[0][0].filter(([, y]) => y > 0 && y < h).map(([x]) => x);
  assert.ok(xs.length >= 2);
  assert.ok(
    xs.every((x) => Math.abs(x - 7.8) < 0.02),
    `frontier at ${xs}`,
  );
  const unc = await readLabel(path.join(dir, 'uncertainty', 'one.png'));
  assert.equal(unc.width, w);
  // p in (0.1, 0.9) for x + 0.5 within 2.2 of 7.8: columns 6..9.
  const row = Array.from(unc.values.subarray(0, w));
  assert.deepEqual(
    row.map((v, x) => (v ? x : -1)).filter((x) => x >= 0),
    [6, 7, 8, 9],
  );
});
