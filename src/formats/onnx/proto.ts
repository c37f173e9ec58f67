/**
 * The few pieces of the protocol-buffers wire format that ONNX files need: a writer for
 * varints, length-delimited fields and fixed 32-bit floats, and a reader that walks the fields
 * of a message. Written by hand rather than pulled in as a dependency (protobufjs plus the
 * onnx.proto schema) because ONNX uses five wire features and onnxruntime-node cannot read a
 * model's metadata_props back, so a reader is needed anyway.
 */

/** Protobuf wire types used by ONNX. */
export const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

/** Appends protobuf fields to a growing byte buffer. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private rawVarint(v: bigint): void {
    // Negative int64 values are written as their 64-bit two's complement (10 bytes).
    let x = BigInt.asUintN(64, v);
    this.reserve(10);
    while (x >= 0x80n) {
      this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.len++] = Number(x);
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  /** An integer field (int32, int64, enum). */
  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE.varint);
    this.rawVarint(BigInt(v));
    return this;
  }

  /** A float field (fixed 32 bits, little-endian). */
  float(field: number, v: number): this {
    this.tag(field, WIRE.fixed32);
    this.reserve(4);
    new DataView(this.buf.buffer).setFloat32(this.len, v, true);
    this.len += 4;
    return this;
  }

  /** A bytes field. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE.bytes);
    this.rawVarint(BigInt(data.length));
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  /** A string field (UTF-8). */
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** An embedded message field. */
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** The bytes written so far. */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** One field of a decoded message: varints as bigint, length-delimited as bytes. */
export interface ProtoField {
  field: number;
  wire: number;
  int?: bigint;
  bytes?: Uint8Array;
}

/** Split a message into its fields (no schema needed; unknown fields are kept too). */
export function readFields(data: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let p = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (p >= data.length) throw new Error('truncated protobuf varint');
      const b = data[p++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      shift += 7n;
      if (shift > 70n) throw new Error('protobuf varint too long');
    }
  };
  while (p < data.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === WIRE.varint) out.push({ field, wire, int: varint() });
    else if (wire === WIRE.bytes) {
      const n = Number(varint());
      if (p + n > data.length) throw new Error('truncated protobuf field');
      out.push({ field, wire, bytes: data.subarray(p, p + n) });
      p += n;
    } else if (wire === WIRE.fixed32) {
      out.push({ field, wire, bytes: data.subarray(p, p + 4) });
      p += 4;
    } else if (wire === WIRE.fixed64) {
      out.push({ field, wire, bytes: data.subarray(p, p + 8) });
      p += 8;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

/** The UTF-8 text of a bytes field. */
export function fieldText(f: ProtoField): string {
  return new TextDecoder().decode(f.bytes ?? new Uint8Array());
}
