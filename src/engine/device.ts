/**
 * Where TensorFlow.js computes, as the user names it (kept apart from the engine, whose module
 * loads TensorFlow.js).
 */
import { GapsegError } from '../util/errors.js';

export type Device = 'cpu' | 'webgpu' | 'auto';

/** Refuse ONNX Runtime's device for work TensorFlow.js does (training, the live model). */
export function checkTrainingDevice(device: Device | 'cuda' | undefined): asserts device is Device | undefined {
  if (device === 'cuda')
    throw new GapsegError("--device cuda is ONNX Runtime's, which only predicts: train on a GPU with --device webgpu", 2);
}
