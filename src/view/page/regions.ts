/**
 * Large areas in one gesture: the region a fill grows from a pixel through similar colours, and
 * the pixels inside a polygon (a lasso). Browser-safe and pure: both give pixel indices, which
 * the painter sets as any stroke's (paint.ts), so undo and saving treat them alike.
 */

/**
 * The 4-connected region of pixels around (x, y) whose colour lies within `tolerance` (Euclidean
 * RGB distance) of the colour at (x, y). RGBA pixels, as a canvas gives them.
 */
export function similarRegion(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  x: number,
  y: number,
  tolerance: number,
): Uint32Array {
  const n = width * height;
  if (x < 0 || y < 0 || x >= width || y >= height) return new Uint32Array(0);
  const seed = y * width + x;
  const [r, g, b] = [rgba[seed * 4], rgba[seed * 4 + 1], rgba[seed * 4 + 2]];
  const t2 = tolerance * tolerance;
  const near = (i: number) => {
    const dr = rgba[i * 4] - r;
    const dg = rgba[i * 4 + 1] - g;
    const db = rgba[i * 4 + 2] - b;
    return dr * dr + dg * dg + db * db <= t2;
  };
  const seen = new Uint8Array(n);
  const out = new Uint32Array(n);
  let count = 0;
  out[count++] = seed;
  seen[seed] = 1;
  // The output doubles as the queue: pixels are appended once, in breadth-first order.
  for (let head = 0; head < count; head++) {
    const i = out[head];
    const px = i % width;
    const visit = (j: number) => {
      if (!seen[j] && near(j)) {
        seen[j] = 1;
        out[count++] = j;
      }
    };
    if (px > 0) visit(i - 1);
    if (px < width - 1) visit(i + 1);
    if (i >= width) visit(i - width);
    if (i < n - width) visit(i + width);
  }
  return out.slice(0, count);
}

/** The pixels whose centres lie inside a closed polygon (even-odd rule), in image coordinates. */
export function polygonInterior(points: readonly [number, number][], width: number, height: number): Uint32Array {
  if (points.length < 3) return new Uint32Array(0);
  const out: number[] = [];
  const ys = points.map((p) => p[1]);
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(height - 1, Math.ceil(Math.max(...ys)));
  const xs: number[] = [];
  for (let y = y0; y <= y1; y++) {
    const cy = y + 0.5;
    xs.length = 0;
    for (let j = 0; j < points.length; j++) {
      const [ax, ay] = points[j];
      const [bx, by] = points[(j + 1) % points.length];
      // Each edge counts once where the scanline crosses it (half-open in y, so vertices count once).
      if (ay <= cy !== by <= cy) xs.push(ax + ((cy - ay) * (bx - ax)) / (by - ay));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const from = Math.max(0, Math.ceil(xs[k] - 0.5));
      const to = Math.min(width - 1, Math.floor(xs[k + 1] - 0.5));
      for (let x = from; x <= to; x++) out.push(y * width + x);
    }
  }
  return Uint32Array.from(out);
}
