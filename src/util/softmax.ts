/** Softmax of pixel-interleaved scores, shared by the loss kernels' references and the dense CRF. */

/**
 * dst[dstAt + i*k + c] = softmax over c of src[srcAt + i*k + c], for pixels i < n (max-shifted,
 * so large logits do not overflow). src and dst may be the same array at the same offset.
 */
export function softmaxPixels(
  src: ArrayLike<number>,
  srcAt: number,
  dst: Float32Array | Float64Array,
  dstAt: number,
  n: number,
  k: number,
): void {
  for (let i = 0; i < n; i++) {
    const o = srcAt + i * k;
    const d = dstAt + i * k;
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, src[o + c]);
    let z = 0;
    for (let c = 0; c < k; c++) z += dst[d + c] = Math.exp(src[o + c] - m);
    for (let c = 0; c < k; c++) dst[d + c] /= z;
  }
}
