/*
 * gapseg's SIMD kernels for the wasm backend, compiled by scripts/build-kernels.sh into a
 * small WebAssembly module that imports the TensorFlow.js wasm heap (shared memory): the
 * kernels read and write tensors in place, by address. They use no stack, no globals and no
 * data segments, so they never touch memory they were not given. Scratch space, when needed,
 * is passed in by the caller (allocated with the backend's malloc).
 *
 * Layout: activations are NHWC viewed as [m rows, c channels]; per-channel statistics are
 * accumulated in float32 lanes over blocks of rows, then in float64, for accuracy.
 * The JavaScript versions in ../batchNormRelu.ts are the reference (they run on the cpu
 * backend in the tests).
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/*
 * a*b + c in the convolution and GEMM inner loops. The FMA build (-DGAPSEG_FMA, needs the
 * relaxed-SIMD proposal) uses f32x4.relaxed_madd, one fused instruction where the CPU has
 * FMA (two where it has not); the base build a multiply and an add.
 */
#ifdef GAPSEG_FMA
#define MADD(a, b, c) wasm_f32x4_relaxed_madd(a, b, c)
#else
#define MADD(a, b, c) wasm_f32x4_add(c, wasm_f32x4_mul(a, b))
#endif
#define BLOCK 256

/*
 * Per-channel sums of (x - x0) and (x - x0)^2 over `rows` rows from x; x0 = the tensor's
 * first row (shifting by it keeps the float32 partial sums accurate). Rows are streamed in
 * order; float32 accumulators (fa, fb: c floats each) are flushed to float64 every BLOCK rows.
 */
static void channel_moments(const float *x0, const float *x, int rows, int c, double *s, double *ss, float *fa,
                            float *fb) {
  for (int k = 0; k < c; k++) { s[k] = 0; ss[k] = 0; }
  int c4 = c & ~3;
  for (int r0 = 0; r0 < rows; r0 += BLOCK) {
    int r1 = r0 + BLOCK < rows ? r0 + BLOCK : rows;
    for (int k = 0; k < c; k++) { fa[k] = 0; fb[k] = 0; }
    for (int r = r0; r < r1; r++) {
      const float *xr = x + (long)r * c;
      int k = 0;
      for (; k < c4; k += 4) {
        v128_t d = wasm_f32x4_sub(wasm_v128_load(xr + k), wasm_v128_load(x0 + k));
        wasm_v128_store(fa + k, wasm_f32x4_add(wasm_v128_load(fa + k), d));
        wasm_v128_store(fb + k, wasm_f32x4_add(wasm_v128_load(fb + k), wasm_f32x4_mul(d, d)));
      }
      for (; k < c; k++) {
        float d = xr[k] - x0[k];
        fa[k] += d;
        fb[k] += d * d;
      }
    }
    for (int k = 0; k < c; k++) { s[k] += fa[k]; ss[k] += fb[k]; }
  }
}

/* First row of chunk u when m rows are cut into `parts` nearly equal chunks. */
static inline int chunk_start(int u, int m, int parts) { return (int)((long)u * m / parts); }

/*
 * Per-channel sums of x [m, c] (bias gradients) for chunks [u0, u1) of `parts` chunks of rows:
 * chunk u's c float64 sums at sums + c*u (the caller adds the chunks, in order). Float32
 * accumulators (2c floats after the chunks' sums) are flushed to float64 every BLOCK rows.
 */
EXPORT(channel_sums_part)
void channel_sums_part(const float *x, int m, int c, int parts, double *sums, int u0, int u1) {
  for (int u = u0; u < u1; u++) {
    double *s = sums + (long)c * u;
    float *fa = (float *)(sums + (long)c * parts) + 2L * c * u;
    int hi = chunk_start(u + 1, m, parts);
    for (int k = 0; k < c; k++) s[k] = 0;
    for (int r0 = chunk_start(u, m, parts); r0 < hi; r0 += BLOCK) {
      int r1 = r0 + BLOCK < hi ? r0 + BLOCK : hi, k;
      for (k = 0; k < c; k++) fa[k] = 0;
      for (int r = r0; r < r1; r++) {
        const float *xr = x + (long)r * c;
        for (k = 0; k + 4 <= c; k += 4) wasm_v128_store(fa + k, wasm_f32x4_add(wasm_v128_load(fa + k), wasm_v128_load(xr + k)));
        for (; k < c; k++) fa[k] += xr[k];
      }
      for (k = 0; k < c; k++) s[k] += fa[k];
    }
  }
}

/*
 * Training batch norm + ReLU over x [m, c], in three phases so that threads can share the
 * row passes: the m rows are cut into `parts` chunks; the *_part functions take chunks
 * [u0, u1) (threads take disjoint ones) and the *_finish functions, run once, combine the
 * chunks' float64 sums in chunk order. scratch: (3*parts + 2)*c doubles; chunk u's sums
 * (2c doubles, then 2c float accumulators) at 3*c*u, the per-channel coefficients after them.
 */
/* Forward phase 1: per chunk, sums of (x - x0) and (x - x0)^2 per channel. */
EXPORT(bn_moments_part)
void bn_moments_part(const float *x, int m, int c, int parts, double *scratch, int u0, int u1) {
  for (int u = u0; u < u1; u++) {
    int lo = chunk_start(u, m, parts), hi = chunk_start(u + 1, m, parts);
    double *s = scratch + 3L * c * u;
    float *fa = (float *)(s + 2 * c);
    channel_moments(x, x + (long)lo * c, hi - lo, c, s, s + c, fa, fa + c);
  }
}

/* Forward phase 2: mean [c], rstd [c], and the coefficients y = max(0, x*scale + shift). */
EXPORT(bn_forward_finish)
void bn_forward_finish(const float *x, const float *gamma, const float *beta, float *mean_out, float *rstd_out, int m,
                       int c, float eps, int parts, double *scratch) {
  float *scale = (float *)(scratch + 3L * c * parts), *shift = scale + c;
  for (int k = 0; k < c; k++) {
    double s = 0, ss = 0;
    for (int u = 0; u < parts; u++) {
      s += scratch[3L * c * u + k];
      ss += scratch[3L * c * u + c + k];
    }
    double d = s / m;
    double var = ss / m - d * d;
    if (var < 0) var = 0;
    double mean = x[k] + d;
    float rstd = (float)(1.0 / __builtin_sqrt(var + eps));
    mean_out[k] = (float)mean;
    rstd_out[k] = rstd;
    scale[k] = gamma[k] * rstd;
    shift[k] = (float)(beta[k] - mean * gamma[k] * rstd);
  }
}

/* Forward phase 3: y for the chunks' rows. */
EXPORT(bn_apply_part)
void bn_apply_part(const float *x, float *y, int m, int c, int parts, const double *scratch, int u0, int u1) {
  const float *scale = (const float *)(scratch + 3L * c * parts), *shift = scale + c;
  v128_t zero = wasm_f32x4_splat(0);
  for (int r = chunk_start(u0, m, parts); r < chunk_start(u1, m, parts); r++) {
    const float *xr = x + (long)r * c;
    float *yr = y + (long)r * c;
    int k = 0;
    for (; k + 4 <= c; k += 4) {
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(xr + k), wasm_v128_load(scale + k)), wasm_v128_load(shift + k));
      wasm_v128_store(yr + k, wasm_f32x4_max(v, zero));
    }
    for (; k < c; k++) {
      float v = xr[k] * scale[k] + shift[k];
      yr[k] = v > 0 ? v : 0;
    }
  }
}

/*
 * Backward. g = dy where y > 0; xhat = (x - mean) * rstd; dbeta = sum g, dgamma = sum g * xhat;
 * dx = k1 * g + a + b * x with k1 = gamma*rstd, b = -k1*rstd*dgamma/m, a = -k1*dbeta/m - b*mean.
 * Phase 1: per chunk, the sums of g and g * xhat per channel.
 */
EXPORT(bn_grad_sums_part)
void bn_grad_sums_part(const float *dy, const float *x, const float *y, const float *mean, const float *rstd, int m,
                       int c, int parts, double *scratch, int u0, int u1) {
  v128_t zero = wasm_f32x4_splat(0);
  int c4 = c & ~3;
  for (int u = u0; u < u1; u++) {
    double *db = scratch + 3L * c * u, *dg = db + c;
    float *fa = (float *)(dg + c), *fb = fa + c;
    for (int k = 0; k < c; k++) { db[k] = 0; dg[k] = 0; }
    int hi = chunk_start(u + 1, m, parts);
    for (int r0 = chunk_start(u, m, parts); r0 < hi; r0 += BLOCK) {
      int r1 = r0 + BLOCK < hi ? r0 + BLOCK : hi;
      for (int k = 0; k < c; k++) { fa[k] = 0; fb[k] = 0; }
      for (int r = r0; r < r1; r++) {
        long o = (long)r * c;
        int k = 0;
        for (; k < c4; k += 4) {
          v128_t g = wasm_v128_and(wasm_v128_load(dy + o + k), wasm_f32x4_gt(wasm_v128_load(y + o + k), zero));
          v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + o + k), wasm_v128_load(mean + k)), wasm_v128_load(rstd + k));
          wasm_v128_store(fa + k, wasm_f32x4_add(wasm_v128_load(fa + k), g));
          wasm_v128_store(fb + k, wasm_f32x4_add(wasm_v128_load(fb + k), wasm_f32x4_mul(g, xh)));
        }
        for (; k < c; k++) {
          if (y[o + k] > 0) {
            fa[k] += dy[o + k];
            fb[k] += dy[o + k] * (x[o + k] - mean[k]) * rstd[k];
          }
        }
      }
      for (int k = 0; k < c; k++) { db[k] += fa[k]; dg[k] += fb[k]; }
    }
  }
}

/* Backward phase 2: dgamma, dbeta and the coefficients k1, a, b of dx. */
EXPORT(bn_backward_finish)
void bn_backward_finish(const float *mean, const float *rstd, const float *gamma, float *dgamma, float *dbeta, int m,
                        int c, int parts, double *scratch) {
  float *k1 = (float *)(scratch + 3L * c * parts), *ka = k1 + c, *kb = ka + c;
  for (int j = 0; j < c; j++) {
    double db = 0, dg = 0;
    for (int u = 0; u < parts; u++) {
      db += scratch[3L * c * u + j];
      dg += scratch[3L * c * u + c + j];
    }
    double s = (double)gamma[j] * rstd[j];
    double t = s * dg * rstd[j] / m;
    k1[j] = (float)s;
    kb[j] = (float)(-t);
    ka[j] = (float)(-s * db / m + t * mean[j]);
    dgamma[j] = (float)dg;
    dbeta[j] = (float)db;
  }
}

/* Backward phase 3: dx for the chunks' rows. */
EXPORT(bn_grad_apply_part)
void bn_grad_apply_part(const float *dy, const float *x, const float *y, float *dx, int m, int c, int parts,
                        const double *scratch, int u0, int u1) {
  const float *k1 = (const float *)(scratch + 3L * c * parts), *ka = k1 + c, *kb = ka + c;
  v128_t zero = wasm_f32x4_splat(0);
  for (int r = chunk_start(u0, m, parts); r < chunk_start(u1, m, parts); r++) {
    long o = (long)r * c;
    int j = 0;
    for (; j + 4 <= c; j += 4) {
      v128_t g = wasm_v128_and(wasm_v128_load(dy + o + j), wasm_f32x4_gt(wasm_v128_load(y + o + j), zero));
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(k1 + j), g),
                                wasm_f32x4_add(wasm_v128_load(ka + j), wasm_f32x4_mul(wasm_v128_load(kb + j), wasm_v128_load(x + o + j))));
      wasm_v128_store(dx + o + j, v);
    }
    for (; j < c; j++) {
      float g = y[o + j] > 0 ? dy[o + j] : 0;
      dx[o + j] = k1[j] * g + ka[j] + kb[j] * x[o + j];
    }
  }
}

/*
 * One Adam step for one parameter, PyTorch's formula with decoupled weight decay:
 * m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 * p' = p - step_size * m / (sqrt(v)/sqrt_bc2 + eps) - lr_wd * p.
 * Writes p', m', v' to new buffers (inputs are left untouched).
 */
EXPORT(adam_update)
void adam_update(const float *p, const float *g, const float *m, const float *v, float *p_out, float *m_out,
                 float *v_out, int n, float b1, float b2, float step_size, float inv_sqrt_bc2, float eps, float lr_wd) {
  v128_t vb1 = wasm_f32x4_splat(b1), vb1c = wasm_f32x4_splat(1 - b1);
  v128_t vb2 = wasm_f32x4_splat(b2), vb2c = wasm_f32x4_splat(1 - b2);
  v128_t vstep = wasm_f32x4_splat(step_size), vinv = wasm_f32x4_splat(inv_sqrt_bc2);
  v128_t veps = wasm_f32x4_splat(eps), vwd = wasm_f32x4_splat(1 - lr_wd);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t gi = wasm_v128_load(g + i);
    v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(vb1, wasm_v128_load(m + i)), wasm_f32x4_mul(vb1c, gi));
    v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(vb2, wasm_v128_load(v + i)), wasm_f32x4_mul(vb2c, wasm_f32x4_mul(gi, gi)));
    v128_t denom = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sqrt(vi), vinv), veps);
    v128_t pi = wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(p + i), vwd), wasm_f32x4_mul(vstep, wasm_f32x4_div(mi, denom)));
    wasm_v128_store(m_out + i, mi);
    wasm_v128_store(v_out + i, vi);
    wasm_v128_store(p_out + i, pi);
  }
  for (; i < n; i++) {
    float mi = b1 * m[i] + (1 - b1) * g[i];
    float vi = b2 * v[i] + (1 - b2) * g[i] * g[i];
    m_out[i] = mi;
    v_out[i] = vi;
    p_out[i] = p[i] * (1 - lr_wd) - step_size * mi / (__builtin_sqrtf(vi) * inv_sqrt_bc2 + eps);
  }
}

/*
 * Gradient of 2x2/stride-2 max pooling: each dy goes to the first position of its window
 * (row-major) holding the pooled maximum y; dx is written whole (zeros elsewhere), for the
 * output rows [r0, r1) of the batch's n*(h/2) (threads take disjoint ones).
 */
EXPORT(maxpool2x2_grad)
void maxpool2x2_grad(const float *dy, const float *x, const float *y, float *dx, int h, int w, int c, int r0, int r1) {
  int ho = h >> 1, wo = w >> 1;
  long row = (long)w * c;
  for (int r = r0; r < r1; r++) {
    int b = r / ho, i = r % ho;
    for (int j = 0; j < wo; j++) {
      long o = (((long)b * ho + i) * wo + j) * c;
      long p = (((long)b * h + 2 * i) * w + 2 * j) * c;
      for (int k = 0; k < c; k++) {
        float m = y[o + k], d = dy[o + k];
        float a0 = x[p + k], a1 = x[p + c + k], a2 = x[p + row + k];
        int s0 = a0 == m, s1 = !s0 && a1 == m, s2 = !s0 && !s1 && a2 == m, s3 = !s0 && !s1 && !s2;
        dx[p + k] = s0 ? d : 0;
        dx[p + c + k] = s1 ? d : 0;
        dx[p + row + k] = s2 ? d : 0;
        dx[p + row + c + k] = s3 ? d : 0;
      }
    }
  }
}

/* Channel concatenation of two NHWC tensors with the same pixels: out = [a, b] per pixel,
   for pixels [p0, p1). */
EXPORT(concat_channels)
void concat_channels(const float *a, const float *b, float *out, int ca, int cb, int p0, int p1) {
  int c = ca + cb;
  for (long p = p0; p < p1; p++) {
    const float *ap = a + p * ca, *bp = b + p * cb;
    float *op = out + p * c;
    for (int k = 0; k < ca; k++) op[k] = ap[k];
    for (int k = 0; k < cb; k++) op[ca + k] = bp[k];
  }
}

/* The inverse: split x [pixels, ca + cb] into a [pixels, ca] and b [pixels, cb], pixels [p0, p1). */
EXPORT(split_channels)
void split_channels(const float *x, float *a, float *b, int ca, int cb, int p0, int p1) {
  int c = ca + cb;
  for (long p = p0; p < p1; p++) {
    const float *xp = x + p * c;
    float *ap = a + p * ca, *bp = b + p * cb;
    for (int k = 0; k < ca; k++) ap[k] = xp[k];
    for (int k = 0; k < cb; k++) bp[k] = xp[ca + k];
  }
}

/*
 * Filter gradient of a stride-1 convolution, computed directly from x [n, h, w, ci] and
 * dy [n, oh, ow, co] with no im2col matrix: dw[(a*kw + b)*ci + c][o] = sum over pixels of
 * x[pixel shifted by tap (a, b)][c] * dy[pixel][o]. For each tap this is a product A^T B whose
 * operands are both strided views of the tensors, so it is computed as register-blocked
 * rank-1 updates (DW_MR input channels x 8 output channels per block). The pixels are taken
 * in bands of about DW_BAND_BYTES of input and output gradient, so that a band's rows of x and dy stay in L2 while every block
 * of dw reads them; each band's sum is kept in registers and added to dw once.
 *
 * Work is split in "units": unit u = (tap, block of DW_MR input channels); this call computes
 * the dw rows of units [u0, u1) (and writes them whole), so threads can share a gradient by
 * taking disjoint unit ranges.
 */
#define DW_MR 4
/* Bytes of x and dy per band (pixels x (ci + co) floats), to stay in L2. */
#define DW_BAND_BYTES (512 * 1024)

/* acc[i][j] += sum over rows r, columns q: a[r*ars + q*ac + i] * b[r*brs + q*bc + 4*j + lane]. */
static inline __attribute__((always_inline)) void dw_block(const float *a, long ars, int ac, const float *b, long brs,
                                                           int bc, int rows, int cols, float *c, int ldc, int mr,
                                                           int nv) {
  v128_t acc[DW_MR][2];
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nv; j++) acc[i][j] = wasm_f32x4_splat(0);
  for (int r = 0; r < rows; r++) {
    const float *ap = a + r * ars, *bp = b + r * brs;
    for (int q = 0; q < cols; q++, ap += ac, bp += bc) {
      v128_t bv[2];
      for (int j = 0; j < nv; j++) bv[j] = wasm_v128_load(bp + 4 * j);
      for (int i = 0; i < mr; i++) {
        v128_t av = wasm_v128_load32_splat(ap + i);
        for (int j = 0; j < nv; j++) acc[i][j] = MADD(av, bv[j], acc[i][j]);
      }
    }
  }
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nv; j++) {
      float *cp = c + (long)i * ldc + 4 * j;
      wasm_v128_store(cp, wasm_f32x4_add(wasm_v128_load(cp), acc[i][j]));
    }
}

/* The same for output channels that do not fill a vector: one at a time, scalar. */
static void dw_block_scalar(const float *a, long ars, int ac, const float *b, long brs, int bc, int rows, int cols,
                            float *c, int ldc, int mr, int nc) {
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nc; j++) {
      float s = 0;
      for (int r = 0; r < rows; r++) {
        const float *ap = a + r * ars + i, *bp = b + r * brs + j;
        for (int q = 0; q < cols; q++) s += ap[(long)q * ac] * bp[(long)q * bc];
      }
      c[(long)i * ldc + j] += s;
    }
}

/* All output channels of one unit over one band: blocks of 8, then 4, then single channels. */
static void dw_unit_band(const float *a, long ars, int ac, const float *b, long brs, int bc, int rows, int cols,
                         float *c, int co, int mr) {
  int j = 0;
#define DW_BLOCKS(MR)                                                                          \
  for (; j + 8 <= co; j += 8) dw_block(a, ars, ac, b + j, brs, bc, rows, cols, c + j, co, MR, 2); \
  for (; j + 4 <= co; j += 4) dw_block(a, ars, ac, b + j, brs, bc, rows, cols, c + j, co, MR, 1);
  switch (mr) {
    case 4: DW_BLOCKS(4) break;
    case 3: DW_BLOCKS(3) break;
    case 2: DW_BLOCKS(2) break;
    default: DW_BLOCKS(1) break;
  }
#undef DW_BLOCKS
  if (j < co) dw_block_scalar(a, ars, ac, b + j, brs, bc, rows, cols, c + j, co, mr, co - j);
}

EXPORT(conv_dw)
void conv_dw(const float *x, const float *dy, float *dw, int n, int h, int w, int ci, int co, int kh, int kw, int top,
             int left, int oh, int ow, int u0, int u1) {
  int blocks = (ci + DW_MR - 1) / DW_MR;
  for (int u = u0; u < u1; u++) {
    int tap = u / blocks, c0 = (u % blocks) * DW_MR;
    int mr = ci - c0 < DW_MR ? ci - c0 : DW_MR;
    float *c = dw + ((long)tap * ci + c0) * co;
    for (long k = 0; k < (long)mr * co; k++) c[k] = 0;
  }
  /* A band is whole rows, or part of one row when a row alone exceeds the band's pixels. */
  int pixels = DW_BAND_BYTES / (4 * (ci + co)) > 64 ? DW_BAND_BYTES / (4 * (ci + co)) : 64;
  int band = pixels / ow > 0 ? pixels / ow : 1, cols = ow < pixels ? ow : pixels;
  long ars = (long)w * ci, brs = (long)ow * co;
  for (int bn = 0; bn < n; bn++) {
    for (int y0 = 0; y0 < oh; y0 += band)
    for (int x0 = 0; x0 < ow; x0 += cols) {
      int y1 = y0 + band < oh ? y0 + band : oh, x1 = x0 + cols < ow ? x0 + cols : ow;
      for (int u = u0; u < u1; u++) {
        int tap = u / blocks, c0 = (u % blocks) * DW_MR;
        int mr = ci - c0 < DW_MR ? ci - c0 : DW_MR;
        int a = tap / kw, b = tap % kw;
        /* Output rows and columns of the band whose input pixel for this tap is in the image. */
        int ya = y0 > top - a ? y0 : top - a, yb = y1 < h + top - a ? y1 : h + top - a;
        int xa = left - b > x0 ? left - b : x0, xb = x1 < w + left - b ? x1 : w + left - b;
        if (ya >= yb || xa >= xb) continue;
        const float *ap = x + (((long)bn * h + ya + a - top) * w + xa + b - left) * ci + c0;
        const float *bp = dy + (((long)bn * oh + ya) * ow + xa) * co;
        dw_unit_band(ap, ars, ci, bp, brs, co, yb - ya, xb - xa, dw + ((long)tap * ci + c0) * co, co, mr);
      }
    }
  }
}

/*
 * Stride-1 convolution: y[n, oy, ox, o] = sum over taps (a, b) and channels c of
 * x[n, oy + a - top, ox + b - left, c] * f[a, b, c, o], 0 outside the image (f packed by
 * conv_pack_filter), plus bias[o] if bias is not null, clamped at 0 if relu is 1 and to [0, 6] if it
 * is 2 (ReLU6); for output rows
 * [r0, r1) of the n*oh rows (threads take disjoint row ranges). Register blocks of CONV_MR
 * neighbouring pixels x 8 output channels, like XNNPACK's GEMM micro-kernels but reading the
 * input in place (no indirection buffer, no packed copy of the filter). Pixels whose window
 * leaves the image on the left or right are done one at a time, skipping the missing taps.
 * Output channels that do not fill a vector are left to the caller (co must be a multiple of 4).
 */
#define CONV_MR 4

static inline __attribute__((always_inline)) void conv_tile(const float *img, int h, int w, int ci, const float *f,
                                                            int co, int kh, int kw, int iy0, int ix0, float *y,
                                                            const float *bias, int relu, int mr, int nv) {
  v128_t acc[CONV_MR][2];
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nv; j++) acc[i][j] = bias ? wasm_v128_load(bias + 4 * j) : wasm_f32x4_splat(0);
  for (int a = 0; a < kh; a++) {
    int iy = iy0 + a;
    if (iy < 0 || iy >= h) continue;
    for (int b = 0; b < kw; b++) {
      int ix = ix0 + b;
      /* Tiles lie wholly inside or are single pixels, so checking both ends suffices. */
      if (ix < 0 || ix + mr > w) continue;
      const float *ap = img + ((long)iy * w + ix) * ci;
      const float *bp = f + (long)(a * kw + b) * ci * 4 * nv;
      for (int c = 0; c < ci; c++, ap++, bp += 4 * nv) {
        v128_t bv[2];
        for (int j = 0; j < nv; j++) bv[j] = wasm_v128_load(bp + 4 * j);
        for (int i = 0; i < mr; i++) {
          v128_t av = wasm_v128_load32_splat(ap + (long)i * ci);
          for (int j = 0; j < nv; j++) acc[i][j] = MADD(av, bv[j], acc[i][j]);
        }
      }
    }
  }
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nv; j++) {
      v128_t v = acc[i][j];
      if (relu) v = wasm_f32x4_max(v, wasm_f32x4_splat(0));
      if (relu == 2) v = wasm_f32x4_min(v, wasm_f32x4_splat(6));
      wasm_v128_store(y + (long)i * co + 4 * j, v);
    }
}

/* One tile of mr pixels (1..CONV_MR) for output channels [j, j + 4*nv). */
static void conv_pixels(const float *img, int h, int w, int ci, const float *f, int co, int kh, int kw, int iy0,
                        int ix0, float *y, const float *bias, int relu, int mr, int nv) {
#define CONV_TILE(MR)                                                                           \
  if (nv == 2) conv_tile(img, h, w, ci, f, co, kh, kw, iy0, ix0, y, bias, relu, MR, 2);      \
  else conv_tile(img, h, w, ci, f, co, kh, kw, iy0, ix0, y, bias, relu, MR, 1);
  switch (mr) {
    case 4: CONV_TILE(4) break;
    case 3: CONV_TILE(3) break;
    case 2: CONV_TILE(2) break;
    default: CONV_TILE(1) break;
  }
#undef CONV_TILE
}

/* About this many input bytes per band of rows: a band is read once per block of 8 outputs. */
#define CONV_BAND_BYTES (512 * 1024)

/*
 * The filter f [kh, kw, ci, co] repacked for conv_fwd: for each block of 8 output channels
 * (4 for a last block of 4), its slice [kh, kw, ci, 8] contiguous, so that a tile reads the
 * filter sequentially. out holds kh*kw*ci*co floats.
 * With `rotate`, the filter of the input gradient instead: rotated by 180 degrees with its
 * channel axes swapped (g[a, b, o, c] = f[kh-1-a, kw-1-b, c, o]), so that conv_fwd of dy
 * with it gives dx.
 */
EXPORT(conv_pack_filter)
void conv_pack_filter(const float *f, float *out, int kh, int kw, int ci, int co, int rotate) {
  int taps = kh * kw, in = rotate ? co : ci, outs = rotate ? ci : co;
  for (int j = 0; j + 4 <= outs; j += 8) {
    int nw = j + 8 <= outs ? 8 : 4;
    float *o = out + (long)j * taps * in;
    for (int t = 0; t < taps; t++)
      for (int c = 0; c < in; c++, o += nw)
        for (int q = 0; q < nw; q++)
          o[q] = rotate ? f[((long)(taps - 1 - t) * ci + j + q) * co + c] : f[((long)t * ci + c) * co + j + q];
  }
}

EXPORT(conv_fwd)
void conv_fwd(const float *x, const float *f, const float *bias, float *y, int n, int h, int w, int ci, int co, int kh,
              int kw, int top, int left, int oh, int ow, int relu, int r0, int r1) {
  /* Output columns [xa, xb) have every tap inside the image. */
  int xa = left < ow ? left : ow;
  int xb = w - kw + 1 + left < ow ? w - kw + 1 + left : ow;
  if (xb < xa) xb = xa;
  long row_bytes = (long)w * ci * 4;
  int band = CONV_BAND_BYTES / row_bytes > 1 ? (int)(CONV_BAND_BYTES / row_bytes) : 1;
  /* Loop order: band of rows, block of output channels (its filter slice stays in cache),
     row, tile. */
  for (int rb = r0; rb < r1; rb += band) {
    int re = rb + band < r1 ? rb + band : r1;
    for (int j = 0; j + 4 <= co; j += 8) {
      int nv = j + 8 <= co ? 2 : 1;
      for (int r = rb; r < re; r++) {
        int bn = r / oh, oy = r % oh;
        const float *img = x + (long)bn * h * w * ci;
        float *yr = y + (long)r * ow * co + j;
        const float *fj = f + (long)j * kh * kw * ci, *bj = bias ? bias + j : 0;
        int iy0 = oy - top, ox = 0;
        for (; ox < xa; ox++) conv_pixels(img, h, w, ci, fj, co, kh, kw, iy0, ox - left, yr + (long)ox * co, bj, relu, 1, nv);
        for (; ox + CONV_MR <= xb; ox += CONV_MR)
          conv_pixels(img, h, w, ci, fj, co, kh, kw, iy0, ox - left, yr + (long)ox * co, bj, relu, CONV_MR, nv);
        if (ox < xb) conv_pixels(img, h, w, ci, fj, co, kh, kw, iy0, ox - left, yr + (long)ox * co, bj, relu, xb - ox, nv);
        for (ox = xb; ox < ow; ox++) conv_pixels(img, h, w, ci, fj, co, kh, kw, iy0, ox - left, yr + (long)ox * co, bj, relu, 1, nv);
      }
    }
  }
}

/*
 * The store's activation, code 0 none, 1 ReLU, 2 ReLU6, as a clamp to [lo, hi] with pmax and
 * pmin: one instruction each (max and min are several, for their NaN rules), and they keep a
 * NaN as the cpu backend's ReLU does. An infinite bound leaves the value as it is.
 */
static inline v128_t dwc_lo(int act) { return wasm_f32x4_splat(act ? 0 : -__builtin_inff()); }
static inline v128_t dwc_hi(int act) { return wasm_f32x4_splat(act == 2 ? 6 : __builtin_inff()); }
static inline v128_t dwc_clamp(v128_t v, v128_t lo, v128_t hi) { return wasm_f32x4_pmin(wasm_f32x4_pmax(v, lo), hi); }

/*
 * The same stride-1 3x3 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and
 * Gray 2016): each 2x2 block of outputs is A^T [(G g G^T) .* (B^T d B)] A over the 4x4 input
 * block d, so a block costs 16 multiplies per input and output channel instead of 36. The
 * input transform V = B^T d B (16 values per tile and channel) of a chunk of tiles goes to
 * scratch; then, per block of 8 output channels and 4 tiles, 16 products of V by the
 * transformed filter U = G g G^T (wino_pack_filter) accumulate in registers like conv_tile's,
 * go to a small scratch buffer, and the output transform writes y with the bias and activation.
 * Needs ci and co multiples of 4. The sums differ from conv_fwd's in rounding only.
 */
#define WINO_CHUNK_FLOATS 8192
#define WINO_PLANE_PAD 16

/* U = G g G^T of the 3x3 filter g read with steps (si, sj) from g0, into u[p * step] for p < 16. */
static void wino_filter_tile(const float *g0, long si, long sj, float *u, long step) {
  float gg[4][3];
  for (int j = 0; j < 3; j++) {
    float a = g0[j * sj], b = g0[si + j * sj], c = g0[2 * si + j * sj];
    gg[0][j] = a;
    gg[1][j] = 0.5f * (a + b + c);
    gg[2][j] = 0.5f * (a - b + c);
    gg[3][j] = c;
  }
  for (int i = 0; i < 4; i++) {
    float a = gg[i][0], b = gg[i][1], c = gg[i][2];
    u[(4 * i + 0) * step] = a;
    u[(4 * i + 1) * step] = 0.5f * (a + b + c);
    u[(4 * i + 2) * step] = 0.5f * (a - b + c);
    u[(4 * i + 3) * step] = c;
  }
}

/*
 * The filter f [3, 3, ci, co] transformed and packed for wino_fwd: per block of 8 output
 * channels (4 for a last block of 4), [16][ci][8] contiguous. With `rotate`, the filter of the
 * input gradient (as conv_pack_filter's). out holds 16*ci*co floats.
 */
EXPORT(wino_pack_filter)
void wino_pack_filter(const float *f, float *out, int ci, int co, int rotate) {
  int in = rotate ? co : ci, outs = rotate ? ci : co;
  for (int j = 0; j + 4 <= outs; j += 8) {
    int nw = j + 8 <= outs ? 8 : 4;
    float *o = out + (long)j * 16 * in;
    for (int c = 0; c < in; c++)
      for (int q = 0; q < nw; q++) {
        /* Tap (a, b) of this (input c, output j + q) pair, before rotation. */
        const float *g0;
        long si, sj;
        if (rotate) {
          g0 = f + ((long)8 * ci + j + q) * co + c; /* tap (2, 2), stepping back */
          si = -3L * ci * co;
          sj = -(long)ci * co;
        } else {
          g0 = f + (long)c * co + j + q;
          si = 3L * ci * co;
          sj = (long)ci * co;
        }
        wino_filter_tile(g0, si, sj, o + (long)c * nw + q, (long)in * nw);
      }
  }
}

/* V = B^T d B of one tile for 4 channels: the 4x4 block at (iy0, ix0), zero outside the image, into v[p * vs]. */
static inline __attribute__((always_inline)) void wino_input_tile(const float *img, int h, int w, int ci, int iy0, int ix0,
                                                                  float *v, long vs) {
  v128_t d[4][4], t[4][4];
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++) {
      int iy = iy0 + a, ix = ix0 + b;
      d[a][b] = iy >= 0 && iy < h && ix >= 0 && ix < w ? wasm_v128_load(img + ((long)iy * w + ix) * ci) : wasm_f32x4_splat(0);
    }
  for (int b = 0; b < 4; b++) {
    t[0][b] = wasm_f32x4_sub(d[0][b], d[2][b]);
    t[1][b] = wasm_f32x4_add(d[1][b], d[2][b]);
    t[2][b] = wasm_f32x4_sub(d[2][b], d[1][b]);
    t[3][b] = wasm_f32x4_sub(d[1][b], d[3][b]);
  }
  for (int a = 0; a < 4; a++) {
    wasm_v128_store(v + (4 * a + 0) * vs, wasm_f32x4_sub(t[a][0], t[a][2]));
    wasm_v128_store(v + (4 * a + 1) * vs, wasm_f32x4_add(t[a][1], t[a][2]));
    wasm_v128_store(v + (4 * a + 2) * vs, wasm_f32x4_sub(t[a][2], t[a][1]));
    wasm_v128_store(v + (4 * a + 3) * vs, wasm_f32x4_sub(t[a][1], t[a][3]));
  }
}

/*
 * m[p][i][8] += V[p][tile i][c] * U[p][c][8] for p < 16, tiles i < mt (1..4), nv vectors of
 * output channels: 16 register-blocked products over the ci channels.
 */
static inline __attribute__((always_inline)) void wino_products(const float *v, long vp, int ci, const float *u, float *m,
                                                                int mt, int nv) {
  for (int p = 0; p < 16; p++) {
    v128_t acc[4][2];
    for (int i = 0; i < mt; i++)
      for (int j = 0; j < nv; j++) acc[i][j] = wasm_f32x4_splat(0);
    const float *vr = v + p * vp, *ur = u + (long)p * ci * 4 * nv;
    for (int c = 0; c < ci; c++, vr++, ur += 4 * nv) {
      v128_t bv[2];
      for (int j = 0; j < nv; j++) bv[j] = wasm_v128_load(ur + 4 * j);
      for (int i = 0; i < mt; i++) {
        v128_t av = wasm_v128_load32_splat(vr + (long)i * ci);
        for (int j = 0; j < nv; j++) acc[i][j] = MADD(av, bv[j], acc[i][j]);
      }
    }
    for (int i = 0; i < mt; i++)
      for (int j = 0; j < nv; j++) wasm_v128_store(m + (p * 4 + i) * 8 + 4 * j, acc[i][j]);
  }
}

/* Y = A^T M A of one tile and 4 output channels (m[p * 32]), plus bias, clamped, stored where inside the output. */
static inline __attribute__((always_inline)) void wino_output_tile(const float *m, float *y, int co, int ow, int oy,
                                                                   int ox, int oh, v128_t bias, v128_t lo, v128_t hi) {
  v128_t s[2][4];
  for (int b = 0; b < 4; b++) {
    v128_t m0 = wasm_v128_load(m + (0 + b) * 32), m1 = wasm_v128_load(m + (4 + b) * 32);
    v128_t m2 = wasm_v128_load(m + (8 + b) * 32), m3 = wasm_v128_load(m + (12 + b) * 32);
    s[0][b] = wasm_f32x4_add(wasm_f32x4_add(m0, m1), m2);
    s[1][b] = wasm_f32x4_sub(wasm_f32x4_sub(m1, m2), m3);
  }
  for (int a = 0; a < 2; a++) {
    if (oy + a >= oh) break;
    v128_t y0 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(s[a][0], s[a][1]), s[a][2]), bias);
    v128_t y1 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_sub(s[a][1], s[a][2]), s[a][3]), bias);
    float *yr = y + ((long)(oy + a) * ow + ox) * co;
    wasm_v128_store(yr, dwc_clamp(y0, lo, hi));
    if (ox + 1 < ow) wasm_v128_store(yr + co, dwc_clamp(y1, lo, hi));
  }
}

/*
 * The convolution of conv_fwd's arguments (kh = kw = 3) for the rows of 2x2 output tiles
 * [r0, r1) of n * ceil(oh / 2); `part` (the thread's index) picks its scratch of
 * wino_scratch_floats(ci) floats in `scratch`.
 */
EXPORT(wino_fwd)
void wino_fwd(const float *x, const float *u, const float *bias, float *y, int n, int h, int w, int ci, int co, int top,
              int left, int oh, int ow, int act, float *scratch, int r0, int r1, int part) {
  int ty = (oh + 1) / 2, tx = (ow + 1) / 2;
  int chunk = WINO_CHUNK_FLOATS / (16 * ci) / 4 * 4;
  if (chunk < 4) chunk = 4;
  float *v = scratch + (long)part * (16L * (chunk * ci + WINO_PLANE_PAD) + 16 * 4 * 8);
  float *m = v + 16L * (chunk * ci + WINO_PLANE_PAD);
  v128_t lo = dwc_lo(act), hi = dwc_hi(act);
  for (int r = r0; r < r1; r++) {
    int bn = r / ty, oy = 2 * (r % ty);
    const float *img = x + (long)bn * h * w * ci;
    float *yb = y + (long)bn * oh * ow * co;
    for (int t0 = 0; t0 < tx; t0 += chunk) {
      int nt = tx - t0 < chunk ? tx - t0 : chunk;
      /* V[p] of this chunk: [nt][ci], planes a cache line apart from a multiple of 4 KB (the
         16 stores of a tile would otherwise fall into one cache set). */
      long vp = (long)nt * ci + WINO_PLANE_PAD;
      for (int i = 0; i < nt; i++)
        for (int c = 0; c < ci; c += 4)
          wino_input_tile(img + c, h, w, ci, oy - top, 2 * (t0 + i) - left, v + (long)i * ci + c, vp);
      for (int j = 0; j + 4 <= co; j += 8) {
        int nv = j + 8 <= co ? 2 : 1;
        const float *uj = u + (long)j * 16 * ci;
        for (int i = 0; i < nt; i += 4) {
          int mt = nt - i < 4 ? nt - i : 4;
          const float *vi = v + (long)i * ci;
#define WINO_PRODUCTS(MT)                                   \
  if (nv == 2) wino_products(vi, vp, ci, uj, m, MT, 2);     \
  else wino_products(vi, vp, ci, uj, m, MT, 1);
          switch (mt) {
            case 4: WINO_PRODUCTS(4) break;
            case 3: WINO_PRODUCTS(3) break;
            case 2: WINO_PRODUCTS(2) break;
            default: WINO_PRODUCTS(1) break;
          }
#undef WINO_PRODUCTS
          for (int k = 0; k < mt; k++)
            for (int q = 0; q < nv; q++) {
              v128_t b = bias ? wasm_v128_load(bias + j + 4 * q) : wasm_f32x4_splat(0);
              wino_output_tile(m + k * 8 + 4 * q, yb + j + 4 * q, co, ow, oy, 2 * (t0 + i + k), oh, b, lo, hi);
            }
        }
      }
    }
  }
}

/* Floats of scratch one thread of wino_fwd needs for ci input channels. */
EXPORT(wino_scratch_floats)
int wino_scratch_floats(int ci) {
  int chunk = WINO_CHUNK_FLOATS / (16 * ci) / 4 * 4;
  if (chunk < 4) chunk = 4;
  return 16 * (chunk * ci + WINO_PLANE_PAD) + 16 * 4 * 8;
}

/*
 * Depthwise convolution (channel multiplier 1) of x [n, h, w, c] by f [kh, kw, c], NHWC, any
 * strides, and its two gradients. Vectors run along the channels, 4 at a time; channels that
 * do not fill a vector are done one at a time. Every output is a sum over a rectangle of taps
 * whose input and filter addresses step evenly in both directions, so one routine (dwc_span)
 * computes a run of outputs for the forward pass and for the input gradient alike; the
 * rectangle shrinks where the window leaves the image, so padding is never read.
 */


/*
 * cnt outputs out[k*os] = act(init + sum over i < na, j < nb of in[k*ik + i*ii + j*ij] *
 * f[i*fi + j*fj]), 4 channels each. With na and nb constants (up to 3) the taps' filter
 * vectors are loaded once and stay in registers for the whole run.
 */
static inline __attribute__((always_inline)) void dwc_run(const float *in, long ik, long ii, long ij, const float *f,
                                                          long fi, long fj, float *out, long os, int cnt, v128_t init,
                                                          int act, int na, int nb) {
  v128_t fr[3][3], lo = dwc_lo(act), hi = dwc_hi(act);
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) fr[i][j] = wasm_v128_load(f + i * fi + j * fj);
  for (int k = 0; k < cnt; k++, in += ik, out += os) {
    v128_t acc = init;
    for (int i = 0; i < na; i++)
      for (int j = 0; j < nb; j++) acc = MADD(wasm_v128_load(in + i * ii + j * ij), fr[i][j], acc);
    wasm_v128_store(out, dwc_clamp(acc, lo, hi));
  }
}

/*
 * dwc_run where a tap's column step equals the output step (ij == ik: stride 1): two outputs
 * per iteration, which share all but one column of loads. Each output's sum is made in the
 * same order as in dwc_run.
 */
static inline __attribute__((always_inline)) void dwc_run2(const float *in, long ik, long ii, const float *f, long fi,
                                                           long fj, float *out, long os, int cnt, v128_t init, int act,
                                                           int na, int nb) {
  v128_t fr[3][3], lo = dwc_lo(act), hi = dwc_hi(act);
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) fr[i][j] = wasm_v128_load(f + i * fi + j * fj);
  int k = 0;
  for (; k + 2 <= cnt; k += 2, in += 2 * ik, out += 2 * os) {
    v128_t a0 = init, a1 = init;
    for (int i = 0; i < na; i++)
      for (int j = 0; j <= nb; j++) {
        v128_t v = wasm_v128_load(in + i * ii + j * ik);
        if (j < nb) a0 = MADD(v, fr[i][j], a0);
        if (j > 0) a1 = MADD(v, fr[i][j - 1], a1);
      }
    wasm_v128_store(out, dwc_clamp(a0, lo, hi));
    wasm_v128_store(out + os, dwc_clamp(a1, lo, hi));
  }
  if (k < cnt) {
    v128_t acc = init;
    for (int i = 0; i < na; i++)
      for (int j = 0; j < nb; j++) acc = MADD(wasm_v128_load(in + i * ii + j * ik), fr[i][j], acc);
    wasm_v128_store(out, dwc_clamp(acc, lo, hi));
  }
}

/* The same for any na, nb (windows wider than 3, or no tap at all), the filter read per output. */
static void dwc_run_any(const float *in, long ik, long ii, long ij, const float *f, long fi, long fj, float *out,
                        long os, int cnt, v128_t init, int act, int na, int nb) {
  v128_t lo = dwc_lo(act), hi = dwc_hi(act);
  for (int k = 0; k < cnt; k++, in += ik, out += os) {
    v128_t acc = init;
    for (int i = 0; i < na; i++)
      for (int j = 0; j < nb; j++) acc = MADD(wasm_v128_load(in + i * ii + j * ij), wasm_v128_load(f + i * fi + j * fj), acc);
    wasm_v128_store(out, dwc_clamp(acc, lo, hi));
  }
}

/* The same for `lanes` (1..3) single channels. */
static void dwc_run_lanes(const float *in, long ik, long ii, long ij, const float *f, long fi, long fj, float *out,
                          long os, int cnt, const float *init, int act, int na, int nb, int lanes) {
  for (int l = 0; l < lanes; l++)
    for (int k = 0; k < cnt; k++) {
      float acc = init ? init[l] : 0;
      for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) acc += in[k * ik + i * ii + j * ij + l] * f[i * fi + j * fj + l];
      if (act) acc = acc < 0 ? 0 : acc;
      if (act == 2) acc = acc > 6 ? 6 : acc;
      out[k * os + l] = acc;
    }
}

/* A run of outputs for channels [ch, ch + 4), or the `lanes` < 4 last ones; see dwc_run. */
static void dwc_span(const float *in, long ik, long ii, long ij, const float *f, long fi, long fj, float *out, long os,
                     int cnt, const float *bias, int act, int na, int nb, int lanes) {
  if (cnt <= 0) return;
  if (lanes < 4) {
    dwc_run_lanes(in, ik, ii, ij, f, fi, fj, out, os, cnt, bias, act, na, nb, lanes);
    return;
  }
  v128_t init = bias ? wasm_v128_load(bias) : wasm_f32x4_splat(0);
  /* Taps stepping against the outputs (the input gradient) are taken in reverse order, so
     that the two-output runs apply to them too. */
  if (ij == -ik && nb > 0) {
    in += (nb - 1) * ij;
    f += (nb - 1) * fj;
    ij = ik;
    fj = -fj;
  }
#define DWC_CASE(A, B)                                                                     \
  case A * 4 + B:                                                                          \
    if (ij == ik && cnt > 1) dwc_run2(in, ik, ii, f, fi, fj, out, os, cnt, init, act, A, B); \
    else dwc_run(in, ik, ii, ij, f, fi, fj, out, os, cnt, init, act, A, B);                  \
    break;
  switch (na > 3 || nb > 3 ? 0 : na * 4 + nb) {
    DWC_CASE(1, 1) DWC_CASE(1, 2) DWC_CASE(1, 3)
    DWC_CASE(2, 1) DWC_CASE(2, 2) DWC_CASE(2, 3)
    DWC_CASE(3, 1) DWC_CASE(3, 2) DWC_CASE(3, 3)
    default: dwc_run_any(in, ik, ii, ij, f, fi, fj, out, os, cnt, init, act, na, nb);
  }
#undef DWC_CASE
}

/*
 * Forward: y[n, oy, ox, ch] = act(bias[ch] + sum over taps (a, b) inside the image of
 * x[n, oy*sh + a - top, ox*sw + b - left, ch] * f[a, b, ch]); bias may be null; act: 0 none,
 * 1 ReLU, 2 ReLU6. For output rows [r0, r1) of the n*oh rows (threads take disjoint ones).
 */
EXPORT(depthwise_fwd)
void depthwise_fwd(const float *x, const float *f, const float *bias, float *y, int n, int h, int w, int c, int kh,
                   int kw, int sh, int sw, int top, int left, int oh, int ow, int act, int r0, int r1) {
  /* Output columns [xa, xb) have every column tap inside the image. */
  int xa = (left + sw - 1) / sw, xb = w - kw + left >= 0 ? (w - kw + left) / sw + 1 : 0;
  if (xa > ow) xa = ow;
  if (xb > ow) xb = ow;
  if (xb < xa) xb = xa;
  long row = (long)w * c;
  for (int r = r0; r < r1; r++) {
    int bn = r / oh, iy0 = (r % oh) * sh - top;
    int a0 = iy0 < 0 ? -iy0 : 0, a1 = h - iy0 < kh ? h - iy0 : kh;
    int na = a1 > a0 ? a1 - a0 : 0;
    const float *xr = x + ((long)bn * h + iy0 + a0) * row, *fr = f + (long)a0 * kw * c;
    float *yr = y + (long)r * ow * c;
    for (int ch = 0; ch < c; ch += 4) {
      int lanes = c - ch < 4 ? c - ch : 4;
      const float *bc = bias ? bias + ch : 0;
      for (int ox = 0; ox < ow; ox++) {
        if (ox == xa) {
          dwc_span(xr + ((long)xa * sw - left) * c + ch, (long)sw * c, row, c, fr + ch, (long)kw * c, c,
                   yr + (long)xa * c + ch, c, xb - xa, bc, act, na, kw, lanes);
          ox = xb;
          if (ox >= ow) break;
        }
        int ix0 = ox * sw - left, b0 = ix0 < 0 ? -ix0 : 0, b1 = w - ix0 < kw ? w - ix0 : kw;
        dwc_span(xr + ((long)ix0 + b0) * c + ch, 0, row, c, fr + (long)b0 * c + ch, (long)kw * c, c,
                 yr + (long)ox * c + ch, c, 1, bc, act, na, b1 > b0 ? b1 - b0 : 0, lanes);
      }
    }
  }
}

/*
 * Input gradient: dx[n, iy, ix, ch] = sum over the outputs (oy, ox) whose window holds (iy, ix)
 * of dy[n, oy, ox, ch] * f[iy + top - oy*sh, ix + left - ox*sw, ch], gathered (each dx written
 * once, whole), for input rows [r0, r1) of the n*h rows. The taps of an input pixel are those
 * a = iy + top (mod sh), b = ix + left (mod sw): the columns of one residue mod sw share them,
 * and along such a column set the outputs they read step by one, so each residue is a run.
 */
EXPORT(depthwise_dx)
void depthwise_dx(const float *dy, const float *f, float *dx, int n, int h, int w, int c, int kh, int kw, int sh,
                  int sw, int top, int left, int oh, int ow, int r0, int r1) {
  long orow = (long)ow * c;
  for (int r = r0; r < r1; r++) {
    int bn = r / h, iy = r % h;
    /* Row taps a = a0 + i*sh read output rows oy0 - i. */
    int a0 = (iy + top) % sh, oy0 = (iy + top - a0) / sh;
    int ni = a0 < kh ? (kh - a0 + sh - 1) / sh : 0;
    int i0 = oy0 - oh + 1 > 0 ? oy0 - oh + 1 : 0, i1 = oy0 + 1 < ni ? oy0 + 1 : ni;
    int na = i1 > i0 ? i1 - i0 : 0;
    const float *dyr = dy + ((long)bn * oh + oy0 - i0) * orow, *fr = f + ((long)a0 + (long)i0 * sh) * kw * c;
    float *dxr = dx + (long)r * w * c;
    for (int q = 0; q < sw && q < w; q++) {
      /* Columns ix = q + k*sw; column taps b = b0 + j*sw read output columns ox0 + k - j. */
      int b0 = (q + left) % sw, ox0 = (q + left - b0) / sw;
      int nj = b0 < kw ? (kw - b0 + sw - 1) / sw : 0, cnt = (w - q + sw - 1) / sw;
      /* k in [ka, kb): every column tap inside the output. */
      int ka = nj - 1 - ox0 > 0 ? nj - 1 - ox0 : 0, kb = ow - ox0 < cnt ? ow - ox0 : cnt;
      if (ka > cnt) ka = cnt;
      if (kb < ka) kb = ka;
      for (int ch = 0; ch < c; ch += 4) {
        int lanes = c - ch < 4 ? c - ch : 4;
        for (int k = 0; k < cnt; k++) {
          if (k == ka) {
            dwc_span(dyr + ((long)ox0 + ka) * c + ch, c, -orow, -c, fr + (long)b0 * c + ch, (long)sh * kw * c,
                     (long)sw * c, dxr + ((long)q + (long)ka * sw) * c + ch, (long)sw * c, kb - ka, 0, 0, na, nj, lanes);
            k = kb;
            if (k >= cnt) break;
          }
          int j0 = ox0 + k - ow + 1 > 0 ? ox0 + k - ow + 1 : 0, j1 = ox0 + k + 1 < nj ? ox0 + k + 1 : nj;
          dwc_span(dyr + ((long)ox0 + k - j0) * c + ch, 0, -orow, -c, fr + ((long)b0 + (long)j0 * sw) * c + ch,
                   (long)sh * kw * c, (long)sw * c, dxr + ((long)q + (long)k * sw) * c + ch, 0, 1, 0, 0, na,
                   j1 > j0 ? j1 - j0 : 0, lanes);
        }
      }
    }
  }
}

/*
 * acc[i*ai + j*aj] += sum over k < cnt of in[k*ik + i*ii + j*ij] * g[k*gk], 4 channels, for
 * i < na, j < nb: the filter gradient's taps over a run of outputs, summed in registers.
 */
static inline __attribute__((always_inline)) void dwf_run(const float *in, long ik, long ii, long ij, const float *g,
                                                          long gk, float *acc, int ai, int cnt, int na, int nb) {
  v128_t s[3][3];
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) s[i][j] = wasm_f32x4_splat(0);
  for (int k = 0; k < cnt; k++, in += ik, g += gk) {
    v128_t gv = wasm_v128_load(g);
    for (int i = 0; i < na; i++)
      for (int j = 0; j < nb; j++) s[i][j] = MADD(wasm_v128_load(in + i * ii + j * ij), gv, s[i][j]);
  }
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) {
      float *p = acc + i * ai + 4 * j;
      wasm_v128_store(p, wasm_f32x4_add(wasm_v128_load(p), s[i][j]));
    }
}

/*
 * dwf_run where the column step equals the output step (ij == ik: stride 1): two outputs per
 * iteration, sharing all but one column of loads; the sums are made in the same order.
 */
static inline __attribute__((always_inline)) void dwf_run2(const float *in, long ik, long ii, const float *g, long gk,
                                                           float *acc, int ai, int cnt, int na, int nb) {
  v128_t s[3][3];
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) s[i][j] = wasm_f32x4_splat(0);
  int k = 0;
  for (; k + 2 <= cnt; k += 2, in += 2 * ik, g += 2 * gk) {
    v128_t g0 = wasm_v128_load(g), g1 = wasm_v128_load(g + gk);
    for (int i = 0; i < na; i++)
      for (int j = 0; j <= nb; j++) {
        v128_t v = wasm_v128_load(in + i * ii + j * ik);
        if (j < nb) s[i][j] = MADD(v, g0, s[i][j]);
        if (j > 0) s[i][j - 1] = MADD(v, g1, s[i][j - 1]);
      }
  }
  if (k < cnt) {
    v128_t g0 = wasm_v128_load(g);
    for (int i = 0; i < na; i++)
      for (int j = 0; j < nb; j++) s[i][j] = MADD(wasm_v128_load(in + i * ii + j * ik), g0, s[i][j]);
  }
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) {
      float *p = acc + i * ai + 4 * j;
      wasm_v128_store(p, wasm_f32x4_add(wasm_v128_load(p), s[i][j]));
    }
}

/* The same for any na, nb, tap by tap; and for `lanes` < 4 channels, one at a time. */
static void dwf_run_any(const float *in, long ik, long ii, long ij, const float *g, long gk, float *acc, int ai,
                        int cnt, int na, int nb, int lanes) {
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++) {
      float *p = acc + i * ai + 4 * j;
      if (lanes == 4) {
        v128_t s = wasm_f32x4_splat(0);
        for (int k = 0; k < cnt; k++) s = MADD(wasm_v128_load(in + k * ik + i * ii + j * ij), wasm_v128_load(g + k * gk), s);
        wasm_v128_store(p, wasm_f32x4_add(wasm_v128_load(p), s));
      } else {
        for (int l = 0; l < lanes; l++) {
          float s = 0;
          for (int k = 0; k < cnt; k++) s += in[k * ik + i * ii + j * ij + l] * g[k * gk + l];
          p[l] += s;
        }
      }
    }
}

static void dwf_span(const float *in, long ik, long ii, long ij, const float *g, long gk, float *acc, int ai, int cnt,
                     int na, int nb, int lanes) {
  if (cnt <= 0) return;
#define DWF_CASE(A, B)                                                        \
  case A * 4 + B:                                                             \
    if (ij == ik && cnt > 1) dwf_run2(in, ik, ii, g, gk, acc, ai, cnt, A, B);   \
    else dwf_run(in, ik, ii, ij, g, gk, acc, ai, cnt, A, B);                    \
    break;
  switch (lanes < 4 || na > 3 || nb > 3 ? 0 : na * 4 + nb) {
    DWF_CASE(1, 1) DWF_CASE(1, 2) DWF_CASE(1, 3)
    DWF_CASE(2, 1) DWF_CASE(2, 2) DWF_CASE(2, 3)
    DWF_CASE(3, 1) DWF_CASE(3, 2) DWF_CASE(3, 3)
    default: dwf_run_any(in, ik, ii, ij, g, gk, acc, ai, cnt, na, nb, lanes);
  }
#undef DWF_CASE
}

/*
 * Filter gradient: df[a, b, ch] = sum over n, oy, ox of x[n, oy*sh + a - top, ox*sw + b - left,
 * ch] * dy[n, oy, ox, ch] (taps outside the image add nothing). Work unit u = channels
 * [4u, 4u + 4) (the last unit may hold fewer), over every pixel: threads take disjoint units,
 * and each sum is added in the same order whatever the number of threads. Sums are float32
 * over bands of about BLOCK outputs, then float64. scratch: 12 * kh*kw*4 bytes per unit,
 * unit u's float64 sums at kh*kw*4*u doubles, its float32 sums after all the units' doubles.
 */
EXPORT(depthwise_dfilter)
void depthwise_dfilter(const float *x, const float *dy, float *df, int n, int h, int w, int c, int kh, int kw, int sh,
                       int sw, int top, int left, int oh, int ow, double *scratch, int u0, int u1) {
  int taps = kh * kw, units = (c + 3) / 4, rows = n * oh;
  float *facc = (float *)(scratch + 4L * taps * units);
  for (long k = 4L * taps * u0; k < 4L * taps * u1; k++) { scratch[k] = 0; facc[k] = 0; }
  int xa = (left + sw - 1) / sw, xb = w - kw + left >= 0 ? (w - kw + left) / sw + 1 : 0;
  if (xa > ow) xa = ow;
  if (xb > ow) xb = ow;
  if (xb < xa) xb = xa;
  int band = BLOCK / ow > 1 ? BLOCK / ow : 1;
  long row = (long)w * c;
  for (int rb = 0; rb < rows; rb += band) {
    int re = rb + band < rows ? rb + band : rows;
    for (int r = rb; r < re; r++) {
      int bn = r / oh, iy0 = (r % oh) * sh - top;
      int a0 = iy0 < 0 ? -iy0 : 0, a1 = h - iy0 < kh ? h - iy0 : kh;
      int na = a1 > a0 ? a1 - a0 : 0;
      const float *xr = x + ((long)bn * h + iy0 + a0) * row, *dyr = dy + (long)r * ow * c;
      for (int u = u0; u < u1; u++) {
        int ch = 4 * u, lanes = c - ch < 4 ? c - ch : 4;
        float *acc = facc + 4L * taps * u + 4L * a0 * kw;
        dwf_span(xr + ((long)xa * sw - left) * c + ch, (long)sw * c, row, c, dyr + (long)xa * c + ch, c, acc, 4 * kw,
                 xb - xa, na, kw, lanes);
        for (int ox = 0; ox < ow; ox++) {
          if (ox == xa) ox = xb;
          if (ox >= ow) break;
          int ix0 = ox * sw - left, b0 = ix0 < 0 ? -ix0 : 0, b1 = w - ix0 < kw ? w - ix0 : kw;
          if (b1 > b0)
            dwf_span(xr + ((long)ix0 + b0) * c + ch, 0, row, c, dyr + (long)ox * c + ch, 0, acc + 4 * b0, 4 * kw, 1,
                     na, b1 - b0, lanes);
        }
      }
    }
    for (long k = 4L * taps * u0; k < 4L * taps * u1; k++) { scratch[k] += facc[k]; facc[k] = 0; }
  }
  for (int u = u0; u < u1; u++) {
    int ch = 4 * u, lanes = c - ch < 4 ? c - ch : 4;
    for (int t = 0; t < taps; t++)
      for (int l = 0; l < lanes; l++) df[(long)t * c + ch + l] = (float)scratch[4L * taps * u + 4L * t + l];
  }
}

/*
 * Gradient through ReLU6 from its output: dx[i] = dy[i] where 0 < y[i] < 6, else 0, for the
 * elements of chunks [u0, u1) of `parts` nearly equal chunks of the n elements.
 */
EXPORT(relu6_grad_part)
void relu6_grad_part(const float *dy, const float *y, float *dx, int n, int parts, int u0, int u1) {
  int i = chunk_start(u0, n, parts), hi = chunk_start(u1, n, parts);
  v128_t zero = wasm_f32x4_splat(0), six = wasm_f32x4_splat(6);
  for (; i < hi && (i & 3); i++) dx[i] = y[i] > 0 && y[i] < 6 ? dy[i] : 0;
  for (; i + 4 <= hi; i += 4) {
    v128_t yv = wasm_v128_load(y + i);
    v128_t keep = wasm_v128_and(wasm_f32x4_gt(yv, zero), wasm_f32x4_lt(yv, six));
    wasm_v128_store(dx + i, wasm_v128_and(wasm_v128_load(dy + i), keep));
  }
  for (; i < hi; i++) dx[i] = y[i] > 0 && y[i] < 6 ? dy[i] : 0;
}
