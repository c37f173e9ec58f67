/**
 * Writes small TFLite files with the generated builder code, for tests: synthetic graphs in
 * float32, uint8 or int8 whose expected outputs the test computes independently.
 */
import * as flatbuffers from 'flatbuffers';
import * as S from '../src/generated/tfliteSchema.js';
import type { Activation, Padding, TensorType } from '../src/formats/tflite/reader.js';

export interface TensorSpec {
  name: string;
  shape: number[];
  type: TensorType;
  quant?: { scale: number[]; zeroPoint: number[]; dimension?: number };
  /** Constant contents as the type's little-endian bytes. */
  data?: Uint8Array;
}

export type OpSpec =
  | { op: 'CONV_2D'; inputs: number[]; outputs: number[]; padding: Padding; strides: [number, number]; activation: Activation }
  | {
      op: 'DEPTHWISE_CONV_2D';
      inputs: number[];
      outputs: number[];
      padding: Padding;
      strides: [number, number];
      depthMultiplier: number;
      activation: Activation;
    }
  | { op: 'AVERAGE_POOL_2D'; inputs: number[]; outputs: number[]; padding: Padding; strides: [number, number]; filter: [number, number] }
  | { op: 'ADD'; inputs: number[]; outputs: number[]; activation: Activation }
  | { op: 'RESHAPE'; inputs: number[]; outputs: number[] }
  | { op: 'SOFTMAX'; inputs: number[]; outputs: number[]; beta: number }
  /** An operator without options, by any builtin name (to test refusals). */
  | { op: keyof typeof S.BuiltinOperator; inputs: number[]; outputs: number[]; bare: true };

export interface GraphSpec {
  tensors: TensorSpec[];
  operators: OpSpec[];
  inputs: number[];
  outputs: number[];
}

/** The bytes of a .tflite file (schema 3, identifier TFL3) holding the graph. */
export function buildTflite(g: GraphSpec): Uint8Array {
  const b = new flatbuffers.Builder(1024);
  // Buffer 0 is the empty buffer that non-constant tensors point at.
  const bufferOffsets = [S.Buffer.createBuffer(b, 0, 0n, 0n)];
  const tensorOffsets = g.tensors.map((t) => {
    let buffer = 0;
    if (t.data) {
      buffer = bufferOffsets.length;
      bufferOffsets.push(S.Buffer.createBuffer(b, S.Buffer.createDataVector(b, t.data), 0n, 0n));
    }
    let quant = 0;
    if (t.quant) {
      const scale = S.QuantizationParameters.createScaleVector(b, t.quant.scale);
      const zero = S.QuantizationParameters.createZeroPointVector(b, t.quant.zeroPoint.map(BigInt));
      S.QuantizationParameters.startQuantizationParameters(b);
      S.QuantizationParameters.addScale(b, scale);
      S.QuantizationParameters.addZeroPoint(b, zero);
      S.QuantizationParameters.addQuantizedDimension(b, t.quant.dimension ?? 0);
      quant = S.QuantizationParameters.endQuantizationParameters(b);
    }
    const name = b.createString(t.name);
    const shape = S.Tensor.createShapeVector(b, t.shape);
    S.Tensor.startTensor(b);
    S.Tensor.addShape(b, shape);
    S.Tensor.addType(b, S.TensorType[t.type.toUpperCase() as keyof typeof S.TensorType]);
    S.Tensor.addBuffer(b, buffer);
    S.Tensor.addName(b, name);
    if (quant) S.Tensor.addQuantization(b, quant);
    return S.Tensor.endTensor(b);
  });

  const codes: string[] = [];
  const act = (a: Activation): S.ActivationFunctionType => S.ActivationFunctionType[a];
  const pad = (p: Padding): S.Padding => S.Padding[p];
  const operatorOffsets = g.operators.map((o) => {
    if (!codes.includes(o.op)) codes.push(o.op);
    let type = S.BuiltinOptions.NONE;
    let options = 0;
    if ('bare' in o) {
      // no options
    } else if (o.op === 'CONV_2D') {
      type = S.BuiltinOptions.Conv2DOptions;
      options = S.Conv2DOptions.createConv2DOptions(b, pad(o.padding), o.strides[1], o.strides[0], act(o.activation), 1, 1);
    } else if (o.op === 'DEPTHWISE_CONV_2D') {
      type = S.BuiltinOptions.DepthwiseConv2DOptions;
      options = S.DepthwiseConv2DOptions.createDepthwiseConv2DOptions(
        b,
        pad(o.padding),
        o.strides[1],
        o.strides[0],
        o.depthMultiplier,
        act(o.activation),
        1,
        1,
      );
    } else if (o.op === 'AVERAGE_POOL_2D') {
      type = S.BuiltinOptions.Pool2DOptions;
      options = S.Pool2DOptions.createPool2DOptions(
        b,
        pad(o.padding),
        o.strides[1],
        o.strides[0],
        o.filter[1],
        o.filter[0],
        S.ActivationFunctionType.NONE,
      );
    } else if (o.op === 'ADD') {
      type = S.BuiltinOptions.AddOptions;
      options = S.AddOptions.createAddOptions(b, act(o.activation));
    } else if (o.op === 'SOFTMAX') {
      type = S.BuiltinOptions.SoftmaxOptions;
      options = S.SoftmaxOptions.createSoftmaxOptions(b, o.beta);
    }
    const inputs = S.Operator.createInputsVector(b, o.inputs);
    const outputs = S.Operator.createOutputsVector(b, o.outputs);
    return S.Operator.createOperator(b, codes.indexOf(o.op), inputs, outputs, type, options);
  });
  const codeOffsets = codes.map((name) => {
    const code = S.BuiltinOperator[name as keyof typeof S.BuiltinOperator];
    // Writers put min(code, 127) in the old byte field, as the converter does.
    return S.OperatorCode.createOperatorCode(b, Math.min(code, 127), 0, 1, code);
  });

  const subgraph = S.SubGraph.createSubGraph(
    b,
    S.SubGraph.createTensorsVector(b, tensorOffsets),
    S.SubGraph.createInputsVector(b, g.inputs),
    S.SubGraph.createOutputsVector(b, g.outputs),
    S.SubGraph.createOperatorsVector(b, operatorOffsets),
    b.createString('main'),
  );
  const model = S.Model.createModel(
    b,
    3,
    S.Model.createOperatorCodesVector(b, codeOffsets),
    S.Model.createSubgraphsVector(b, [subgraph]),
    b.createString('gapseg test model'),
    S.Model.createBuffersVector(b, bufferOffsets),
  );
  S.Model.finishModelBuffer(b, model);
  return b.asUint8Array().slice();
}

/** Little-endian bytes of typed values. */
export function bytesOf(values: Float32Array | Int32Array | Int8Array | Uint8Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}
