/** Where TensorFlow.js computes, as the user names it (kept apart from the engine, whose module loads TensorFlow.js). */
export type Device = 'cpu' | 'webgpu' | 'auto';
