/**
 * Reader of TensorFlow Lite model files (flatbuffers, file identifier "TFL3"), through the npm
 * `flatbuffers` runtime and code that flatc generated from (a subset of) TFLite's published
 * schema. It returns plain data: the main subgraph's tensors with their quantization and
 * constant bytes, and its operators with the options a convolutional network needs.
 *
 * The flatbuffers runtime reads without bounds checks (a read past the end gives undefined,
 * which its bit arithmetic turns into 0), so a truncated file would read as zeros; every
 * read here goes through a ByteBuffer that refuses to leave the file instead.
 */
import fs from 'node:fs';
import * as flatbuffers from 'flatbuffers';
import * as S from '../../generated/tfliteSchema.js';
import { GapsegError, fsProblem } from '../../util/errors.js';

/** Element type of a tensor: TFLite's TensorType name in lower case ('uint8', 'float32', ...). */
export type TensorType = Lowercase<keyof typeof S.TensorType>;
export type Padding = 'SAME' | 'VALID';
export type Activation = keyof typeof S.ActivationFunctionType;

/** real = scale[i] * (q - zeroPoint[i]); one entry for the tensor, or one per slice along `dimension`. */
export interface Quantization {
  scale: Float32Array;
  zeroPoint: Int32Array;
  dimension: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: TensorType;
  /** Null for a float tensor or one whose scale list is empty. */
  quantization: Quantization | null;
  /** Constant contents, little-endian, a view into the file's bytes; null for an activation. */
  data: Uint8Array | null;
}

export interface ConvOptions {
  kind: 'conv';
  padding: Padding;
  strides: [number, number];
  dilations: [number, number];
  activation: Activation;
}

export interface DepthwiseOptions {
  kind: 'depthwise';
  padding: Padding;
  strides: [number, number];
  dilations: [number, number];
  depthMultiplier: number;
  activation: Activation;
}

export interface PoolOptions {
  kind: 'pool';
  padding: Padding;
  strides: [number, number];
  filter: [number, number];
  activation: Activation;
}

export interface AddOptions {
  kind: 'add';
  activation: Activation;
}

export interface SoftmaxOptions {
  kind: 'softmax';
  beta: number;
}

export interface ReshapeOptions {
  kind: 'reshape';
  newShape: number[];
}

/** Options of the operators this reader decodes; `none` for the others (or when absent). */
export type OpOptions = ConvOptions | DepthwiseOptions | PoolOptions | AddOptions | SoftmaxOptions | ReshapeOptions | { kind: 'none' };

export interface TfliteOperator {
  index: number;
  /** BuiltinOperator name ('CONV_2D', ...), or 'CUSTOM:<code>' for a custom operator. */
  op: string;
  version: number;
  /** Tensor indices; -1 is an omitted optional input. */
  inputs: number[];
  outputs: number[];
  options: OpOptions;
}

export interface TfliteModel {
  file: string;
  schemaVersion: number;
  description: string;
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  inputs: number[];
  outputs: number[];
}

const IDENTIFIER = 'TFL3';

/** Byte size of one element, for the types whose constant data this reader checks. */
const ELEMENT_BYTES: Partial<Record<TensorType, number>> = {
  float32: 4,
  float16: 2,
  int32: 4,
  uint8: 1,
  int64: 8,
  bool: 1,
  int16: 2,
  int8: 1,
  float64: 8,
  uint64: 8,
  uint32: 4,
  uint16: 2,
};

/** A read outside the file: the flatbuffer is truncated or its offsets are corrupt. */
class OutOfFile extends Error {}

/** ByteBuffer whose reads stay inside the file (all typed reads go through these three). */
class CheckedByteBuffer extends flatbuffers.ByteBuffer {
  private need(offset: number, n: number): void {
    if (!(offset >= 0 && offset + n <= this.capacity()))
      throw new OutOfFile(`offset ${offset} is outside the ${this.capacity()}-byte file`);
  }
  override readUint8(offset: number): number {
    this.need(offset, 1);
    return super.readUint8(offset);
  }
  override readUint16(offset: number): number {
    this.need(offset, 2);
    return super.readUint16(offset);
  }
  override readInt32(offset: number): number {
    this.need(offset, 4);
    return super.readInt32(offset);
  }
  // The runtime cuts a string that runs past the end short instead of failing.
  override __string(offset: number, encoding?: flatbuffers.Encoding): string | Uint8Array {
    const start = offset + this.readInt32(offset);
    this.need(start + 4, Math.max(0, this.readInt32(start)));
    return super.__string(offset, encoding);
  }
}

/** Read and parse a .tflite file; any problem is a one-line GapsegError naming the file. */
export function readTflite(file: string): TfliteModel {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new GapsegError(`${file}: cannot read TFLite model (${fsProblem(e)})`);
  }
  return parseTflite(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file);
}

/** Parse the bytes of a .tflite file; `file` names it in errors. */
export function parseTflite(bytes: Uint8Array, file: string): TfliteModel {
  if (bytes.length < 8) throw new GapsegError(`${file}: not a TFLite model (${bytes.length} bytes, too short for a flatbuffer)`);
  const id = String.fromCharCode(...bytes.subarray(4, 8));
  if (id !== IDENTIFIER) {
    throw new GapsegError(`${file}: not a TFLite model (file identifier ${JSON.stringify(id)} at bytes 4-7, expected "${IDENTIFIER}")`);
  }
  try {
    return parseModel(new CheckedByteBuffer(bytes), bytes, file);
  } catch (e) {
    if (e instanceof GapsegError) throw e;
    // RangeError: a vector view (buffer data) that would run past the end.
    if (e instanceof OutOfFile || e instanceof RangeError)
      throw new GapsegError(`${file}: truncated or corrupt TFLite model (${e.message})`);
    throw e;
  }
}

function parseModel(bb: flatbuffers.ByteBuffer, bytes: Uint8Array, file: string): TfliteModel {
  const model = S.Model.getRootAsModel(bb);
  const bad = (why: string): GapsegError => new GapsegError(`${file}: ${why}`);
  const schemaVersion = model.version();
  if (schemaVersion !== 3) throw bad(`TFLite schema version ${schemaVersion}, this reader reads version 3`);
  if (model.subgraphsLength() < 1) throw bad('TFLite model has no subgraph');
  // Subgraph 0 is the model; others are bodies of control-flow operators, which we do not run.
  const graph = model.subgraphs(0)!;

  const codes: { op: string; version: number }[] = [];
  for (let i = 0; i < model.operatorCodesLength(); i++) {
    const c = model.operatorCodes(i)!;
    // Files from before builtin_code existed carry the code only in the deprecated byte.
    const code = Math.max(c.builtinCode(), c.deprecatedBuiltinCode());
    const name = S.BuiltinOperator[code] as string | undefined;
    const op = code === S.BuiltinOperator.CUSTOM ? `CUSTOM:${c.customCode() ?? ''}` : (name ?? `BUILTIN_${code}`);
    codes.push({ op, version: c.version() });
  }

  const tensors: TfliteTensor[] = [];
  for (let i = 0; i < graph.tensorsLength(); i++) {
    tensors.push(parseTensor(graph.tensors(i)!, i, model, bytes, bad));
  }
  const tensorIndex = (j: number, where: string): number => {
    if (j === -1 || (j >= 0 && j < tensors.length)) return j;
    throw bad(`${where} refers to tensor ${j}, but the graph has ${tensors.length} tensors`);
  };

  const operators: TfliteOperator[] = [];
  for (let i = 0; i < graph.operatorsLength(); i++) {
    const o = graph.operators(i)!;
    const code = codes[o.opcodeIndex()];
    if (!code) throw bad(`operator ${i} has operator code ${o.opcodeIndex()}, but the file lists ${codes.length}`);
    const where = `operator ${i} (${code.op})`;
    operators.push({
      index: i,
      op: code.op,
      version: code.version,
      inputs: ints(o.inputsLength(), (k) => o.inputs(k)).map((j) => tensorIndex(j, where)),
      outputs: ints(o.outputsLength(), (k) => o.outputs(k)).map((j) => tensorIndex(j, where)),
      options: parseOptions(o, code.op, (why) => bad(`${where}: ${why}`)),
    });
  }
  return {
    file,
    schemaVersion,
    description: model.description() ?? '',
    tensors,
    operators,
    inputs: ints(graph.inputsLength(), (k) => graph.inputs(k)).map((j) => tensorIndex(j, "the graph's inputs")),
    outputs: ints(graph.outputsLength(), (k) => graph.outputs(k)).map((j) => tensorIndex(j, "the graph's outputs")),
  };
}

/** A vector of ints through its element accessor, which needs no alignment of the file's bytes. */
function ints(n: number, at: (i: number) => number | null): number[] {
  return Array.from({ length: n }, (_, i) => at(i) ?? 0);
}

function parseTensor(t: S.Tensor, index: number, model: S.Model, bytes: Uint8Array, bad: (why: string) => GapsegError): TfliteTensor {
  const name = t.name() ?? '';
  const where = `tensor ${index} (${name})`;
  const typeName = S.TensorType[t.type()] as string | undefined;
  if (!typeName) throw bad(`${where} has unknown type code ${t.type()}`);
  const type = typeName.toLowerCase() as TensorType;
  const shape = ints(t.shapeLength(), (k) => t.shape(k));
  if (shape.some((d) => d < 0)) throw bad(`${where} has shape [${shape}]`);
  if (t.sparsity()) throw bad(`${where} is sparse; this reader reads dense tensors`);

  let quantization: Quantization | null = null;
  const q = t.quantization();
  if (q && q.detailsType() !== S.QuantizationDetails.NONE) throw bad(`${where} has custom quantization, not scale and zero point`);
  if (q && q.scaleLength() > 0) {
    const scale = Float32Array.from({ length: q.scaleLength() }, (_, k) => q.scale(k) ?? 0);
    // A missing zero-point list means zero points of 0 (symmetric quantization).
    const zeroPoint = Int32Array.from({ length: scale.length }, (_, k) => (k < q.zeroPointLength() ? Number(q.zeroPoint(k)) : 0));
    const dimension = q.quantizedDimension();
    if (scale.length > 1 && (dimension < 0 || dimension >= shape.length || shape[dimension] !== scale.length)) {
      throw bad(`${where}: ${scale.length} scales along dimension ${dimension} of shape [${shape}]`);
    }
    if (scale.some((s) => !(s > 0) || !Number.isFinite(s))) throw bad(`${where} has a quantization scale that is not a positive number`);
    quantization = { scale, zeroPoint, dimension };
  }

  let data: Uint8Array | null = null;
  const bufferIndex = t.buffer();
  if (bufferIndex !== 0) {
    if (bufferIndex >= model.buffersLength())
      throw bad(`${where} refers to buffer ${bufferIndex}, but the file has ${model.buffersLength()}`);
    const b = model.buffers(bufferIndex)!;
    const offset = Number(b.offset());
    if (offset > 1) {
      // Large models keep constant data after the flatbuffer, addressed from the file's start.
      const size = Number(b.size());
      if (offset + size > bytes.length)
        throw new OutOfFile(`${where}: its data (${size} bytes at ${offset}) runs past the end of the ${bytes.length}-byte file`);
      data = bytes.subarray(offset, offset + size);
    } else {
      data = b.dataArray();
      // A small file's bytes may sit inside a larger pooled ArrayBuffer, where a view past our
      // end would not fail by itself.
      if (data && (data.byteOffset < bytes.byteOffset || data.byteOffset + data.length > bytes.byteOffset + bytes.length)) {
        throw new OutOfFile(`${where}: its data (${data.length} bytes) runs past the end of the ${bytes.length}-byte file`);
      }
    }
    if (data && data.length === 0) data = null;
  }
  const elementBytes = ELEMENT_BYTES[type];
  if (data && elementBytes !== undefined) {
    const expected = shape.reduce((a, d) => a * d, 1) * elementBytes;
    if (data.length !== expected)
      throw bad(`${where} of shape [${shape}] and type ${type} has ${data.length} bytes of data, expected ${expected}`);
  }
  return { index, name, shape, type, quantization, data };
}

function padding(p: S.Padding, bad: (why: string) => GapsegError): Padding {
  const name = S.Padding[p] as Padding | undefined;
  if (!name) throw bad(`unknown padding code ${p}`);
  return name;
}

function activation(a: S.ActivationFunctionType, bad: (why: string) => GapsegError): Activation {
  const name = S.ActivationFunctionType[a] as Activation | undefined;
  if (!name) throw bad(`unknown fused activation code ${a}`);
  return name;
}

/** The operator's options, checked against the option table its code calls for. */
function parseOptions(o: S.Operator, op: string, bad: (why: string) => GapsegError): OpOptions {
  const type = o.builtinOptionsType();
  const expect = (want: S.BuiltinOptions): void => {
    if (type !== want) throw bad(`options are ${S.BuiltinOptions[type] ?? `type ${type}`}, expected ${S.BuiltinOptions[want]}`);
  };
  const positive = (v: number, what: string): number => {
    if (!(v >= 1)) throw bad(`${what} ${v}`);
    return v;
  };
  switch (op) {
    case 'CONV_2D': {
      expect(S.BuiltinOptions.Conv2DOptions);
      const c = o.builtinOptions(new S.Conv2DOptions()) as S.Conv2DOptions;
      return {
        kind: 'conv',
        padding: padding(c.padding(), bad),
        strides: [positive(c.strideH(), 'stride'), positive(c.strideW(), 'stride')],
        dilations: [positive(c.dilationHFactor(), 'dilation'), positive(c.dilationWFactor(), 'dilation')],
        activation: activation(c.fusedActivationFunction(), bad),
      };
    }
    case 'DEPTHWISE_CONV_2D': {
      expect(S.BuiltinOptions.DepthwiseConv2DOptions);
      const c = o.builtinOptions(new S.DepthwiseConv2DOptions()) as S.DepthwiseConv2DOptions;
      return {
        kind: 'depthwise',
        padding: padding(c.padding(), bad),
        strides: [positive(c.strideH(), 'stride'), positive(c.strideW(), 'stride')],
        dilations: [positive(c.dilationHFactor(), 'dilation'), positive(c.dilationWFactor(), 'dilation')],
        // Newer converters write 0 here: the filter's channel count is what counts (see mobilenet.ts).
        depthMultiplier: c.depthMultiplier(),
        activation: activation(c.fusedActivationFunction(), bad),
      };
    }
    case 'AVERAGE_POOL_2D':
    case 'MAX_POOL_2D': {
      expect(S.BuiltinOptions.Pool2DOptions);
      const c = o.builtinOptions(new S.Pool2DOptions()) as S.Pool2DOptions;
      return {
        kind: 'pool',
        padding: padding(c.padding(), bad),
        strides: [positive(c.strideH(), 'stride'), positive(c.strideW(), 'stride')],
        filter: [positive(c.filterHeight(), 'filter size'), positive(c.filterWidth(), 'filter size')],
        activation: activation(c.fusedActivationFunction(), bad),
      };
    }
    case 'ADD': {
      // ADD without options has no fused activation.
      if (type === S.BuiltinOptions.NONE) return { kind: 'add', activation: 'NONE' };
      expect(S.BuiltinOptions.AddOptions);
      const c = o.builtinOptions(new S.AddOptions()) as S.AddOptions;
      return { kind: 'add', activation: activation(c.fusedActivationFunction(), bad) };
    }
    case 'SOFTMAX': {
      expect(S.BuiltinOptions.SoftmaxOptions);
      const c = o.builtinOptions(new S.SoftmaxOptions()) as S.SoftmaxOptions;
      return { kind: 'softmax', beta: c.beta() };
    }
    case 'RESHAPE': {
      // The target shape is usually the second input; the option is the older way.
      if (type !== S.BuiltinOptions.ReshapeOptions) return { kind: 'reshape', newShape: [] };
      const c = o.builtinOptions(new S.ReshapeOptions()) as S.ReshapeOptions;
      return { kind: 'reshape', newShape: ints(c.newShapeLength(), (k) => c.newShape(k)) };
    }
    default:
      return { kind: 'none' };
  }
}
