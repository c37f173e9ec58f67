/** The network as prediction sees it, whatever runs it (TensorFlow.js, ONNX Runtime, a flip average). */

/** Runs the network on a batch: planar NCHW normalised input -> NCHW scores [n, K, h, w]. */
export type NetFn = (input: Float32Array, n: number, height: number, width: number) => Promise<Float32Array>;
