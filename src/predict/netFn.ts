/** The network as prediction sees it, whatever runs it (TensorFlow.js, ONNX Runtime, a flip average). */
import { ModelError } from '../util/errors.js';

/** Runs the network on a batch: planar NCHW normalised input -> NCHW scores [n, K, h, w]. */
export type NetFn = (input: Float32Array, n: number, height: number, width: number) => Promise<Float32Array>;

/** The network, its scores checked to be numbers: a model whose output is NaN is refused, not turned into labels. */
export function finiteScores(net: NetFn, source: string): NetFn {
  return async (input, n, height, width) => {
    const scores = await net(input, n, height, width);
    for (let i = 0; i < scores.length; i++) {
      if (!Number.isFinite(scores[i]))
        throw new ModelError(`${source}: the model's output holds NaN or infinite values; it cannot predict`);
    }
    return scores;
  };
}
