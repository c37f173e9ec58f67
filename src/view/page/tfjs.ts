/**
 * The part of TensorFlow.js the page uses, as types: the library is loaded as classic scripts
 * before the page's modules (the global `tf`), so nothing here is imported at run time.
 */

export interface TfTensor {
  data(): Promise<Float32Array>;
  dispose(): void;
}
export interface TfLayersModel {
  predict(x: TfTensor): TfTensor;
}
export interface TfGlobal {
  tensor4d(values: Float32Array, shape: [number, number, number, number]): TfTensor;
  transpose(x: TfTensor, perm: number[]): TfTensor;
  loadLayersModel(url: string): Promise<TfLayersModel>;
  setBackend(name: string): Promise<boolean>;
  getBackend(): string;
  ready(): Promise<void>;
  wasm?: { setWasmPaths(prefix: string): void };
}
