/**
 * ONNX models as plain data: building one (graph of nodes, initializers, typed inputs and
 * outputs, metadata) and encoding it as an onnx.proto ModelProto; reading back the parts of
 * any ONNX file that gapseg needs (metadata, opsets, input/output shapes, node types).
 * Field numbers are those of onnx/onnx.proto.
 */
import { ProtoWriter, fieldText, readFields, type ProtoField } from './proto.js';

/** TensorProto.DataType values used here. */
export const DTYPE = { float: 1, int64: 7 } as const;

export type OnnxAttr =
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'ints'; value: number[] }
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'string'; value: string };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attrs?: OnnxAttr[];
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

/** A graph input or output: float tensor with fixed (number) or symbolic (string) dims. */
export interface OnnxValueInfo {
  name: string;
  elemType: number;
  dims: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  /** Default-domain opset version. */
  opset: number;
  irVersion: number;
  producer: string;
  producerVersion: string;
  docString?: string;
  metadata: Record<string, string>;
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

function encodeAttr(a: OnnxAttr): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  if (a.type === 'int') w.int(3, a.value);
  else if (a.type === 'float') w.float(2, a.value);
  else if (a.type === 'string') w.string(4, a.value);
  else for (const v of a.value) w.int(8, v);
  return w.int(20, ATTR_TYPE[a.type]);
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.op);
  for (const a of n.attrs ?? []) w.message(5, encodeAttr(a));
  return w;
}

function encodeTensor(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.data instanceof Float32Array ? DTYPE.float : DTYPE.int64);
  w.string(8, t.name);
  // raw_data is little-endian; so are the typed arrays on every platform Node runs on.
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, v.elemType).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

/** Encode a model as the bytes of an .onnx file. */
export function encodeOnnx(m: OnnxModel): Uint8Array {
  const g = new ProtoWriter();
  for (const n of m.graph.nodes) g.message(1, encodeNode(n));
  g.string(2, m.graph.name);
  for (const t of m.graph.initializers) g.message(5, encodeTensor(t));
  for (const v of m.graph.inputs) g.message(11, encodeValueInfo(v));
  for (const v of m.graph.outputs) g.message(12, encodeValueInfo(v));
  const w = new ProtoWriter().int(1, m.irVersion).string(2, m.producer).string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, g);
  w.message(8, new ProtoWriter().string(1, '').int(2, m.opset));
  for (const [k, v] of Object.entries(m.metadata)) w.message(14, new ProtoWriter().string(1, k).string(2, v));
  return w.finish();
}

/** What gapseg reads from any ONNX file (weights are not decoded). */
export interface OnnxSummary {
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  metadata: Record<string, string>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Graph inputs that are really initializers (old exporters list weights as inputs). */
  initializerNames: Set<string>;
  nodes: { op: string; inputs: string[]; outputs: string[]; attrs: Record<string, number[] | number | string> }[];
}

const only = (fields: ProtoField[], n: number) => fields.filter((f) => f.field === n);

function decodeValueInfo(bytes: Uint8Array): OnnxValueInfo {
  const f = readFields(bytes);
  const name = only(f, 1).map(fieldText)[0] ?? '';
  let elemType = 0;
  const dims: (number | string)[] = [];
  const type = only(f, 2)[0];
  const tensor = type ? only(readFields(type.bytes!), 1)[0] : undefined;
  if (tensor) {
    const tf = readFields(tensor.bytes!);
    elemType = Number(only(tf, 1)[0]?.int ?? 0n);
    const shape = only(tf, 2)[0];
    if (shape) {
      for (const d of only(readFields(shape.bytes!), 1)) {
        const df = readFields(d.bytes!);
        const value = only(df, 1)[0];
        const param = only(df, 2)[0];
        dims.push(value ? Number(value.int) : param ? fieldText(param) : '?');
      }
    }
  }
  return { name, elemType, dims };
}

function decodeAttr(bytes: Uint8Array): [string, number[] | number | string] {
  const f = readFields(bytes);
  const name = fieldText(only(f, 1)[0]);
  const type = Number(only(f, 20)[0]?.int ?? 0n);
  if (type === ATTR_TYPE.int) return [name, Number(only(f, 3)[0]?.int ?? 0n)];
  if (type === ATTR_TYPE.float) {
    const b = only(f, 2)[0].bytes!;
    return [name, new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true)];
  }
  if (type === ATTR_TYPE.string) return [name, fieldText(only(f, 4)[0])];
  if (type === ATTR_TYPE.ints) {
    const ints: number[] = [];
    for (const x of only(f, 8)) {
      if (x.int !== undefined) ints.push(Number(BigInt.asIntN(64, x.int)));
      else {
        // packed encoding
        for (const y of readPackedVarints(x.bytes!)) ints.push(y);
      }
    }
    return [name, ints];
  }
  return [name, ''];
}

function readPackedVarints(b: Uint8Array): number[] {
  const out: number[] = [];
  let v = 0n;
  let shift = 0n;
  for (const byte of b) {
    v |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) {
      out.push(Number(BigInt.asIntN(64, v)));
      v = 0n;
      shift = 0n;
    } else shift += 7n;
  }
  return out;
}

/** Read the description of an ONNX file: metadata, opsets, graph inputs/outputs and nodes. */
export function readOnnxSummary(bytes: Uint8Array): OnnxSummary {
  const f = readFields(bytes);
  const metadata: Record<string, string> = {};
  for (const m of only(f, 14)) {
    const kv = readFields(m.bytes!);
    metadata[fieldText(only(kv, 1)[0])] = only(kv, 2)[0] ? fieldText(only(kv, 2)[0]) : '';
  }
  const opsets = only(f, 8).map((o) => {
    const of = readFields(o.bytes!);
    return { domain: only(of, 1)[0] ? fieldText(only(of, 1)[0]) : '', version: Number(only(of, 2)[0]?.int ?? 0n) };
  });
  const graph = only(f, 7)[0];
  if (!graph) throw new Error('no graph in the model');
  const gf = readFields(graph.bytes!);
  const initializerNames = new Set(
    only(gf, 5).map((t) => {
      const tf = readFields(t.bytes!);
      return only(tf, 8)[0] ? fieldText(only(tf, 8)[0]) : '';
    }),
  );
  return {
    irVersion: Number(only(f, 1)[0]?.int ?? 0n),
    producer: only(f, 2)[0] ? fieldText(only(f, 2)[0]) : '',
    opsets,
    metadata,
    inputs: only(gf, 11).map((v) => decodeValueInfo(v.bytes!)),
    outputs: only(gf, 12).map((v) => decodeValueInfo(v.bytes!)),
    initializerNames,
    nodes: only(gf, 1).map((n) => {
      const nf = readFields(n.bytes!);
      return {
        op: fieldText(only(nf, 4)[0]),
        inputs: only(nf, 1).map(fieldText),
        outputs: only(nf, 2).map(fieldText),
        attrs: Object.fromEntries(only(nf, 5).map((a) => decodeAttr(a.bytes!))),
      };
    }),
  };
}
