/**
 * The class description: which label values are real classes (and their names, colours)
 * and which values are void, i.e. unlabelled. Real classes get one model output each, in
 * the order listed; void values get none.
 *
 * Sources: a fastai-style `codes.txt` (one name per line, line index = label value; a class
 * named "void" is void), a `gapseg.json`, or command-line text like "0=background,255=smoke".
 */
import fs from 'node:fs';
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { readTextFile } from '../util/files.js';
import { MAX_CLASSES, VOID_INDEX } from './labelIndices.js';

export type RGB = [number, number, number];

export interface ClassInfo {
  /** Class name, unique. */
  name: string;
  /** The label value that marks this class in mask files. */
  value: number;
  /** Display colour for overlays. */
  color: RGB;
}

export interface ClassDescription {
  /** Real classes, in model output order. */
  classes: ClassInfo[];
  /** Label values that mean "nobody labelled this pixel". */
  voidValues: number[];
}

/** Largest label value a mask may hold (16-bit masks). */
export const MAX_LABEL_VALUE = 65535;

export { VOID_INDEX, MAX_CLASSES } from './labelIndices.js';

const PALETTE: RGB[] = [
  [0, 0, 0],
  [230, 25, 75],
  [60, 180, 75],
  [0, 130, 200],
  [255, 225, 25],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 190],
  [0, 128, 128],
  [170, 110, 40],
  [128, 0, 0],
  [128, 128, 0],
  [0, 0, 128],
];

/** Default display colour of the i-th class. */
export function defaultColor(i: number): RGB {
  if (i < PALETTE.length) return PALETTE[i];
  const h = (i * 0.618033988749895) % 1;
  const c = [0, 1, 2].map((k) => Math.round(255 * (0.5 + 0.45 * Math.cos(2 * Math.PI * (h + k / 3)))));
  return [c[0], c[1], c[2]];
}

const VOID_NAMES = /^(void|unlabel+ed|ignore|ignored)$/i;

/** Whether a class name conventionally means "unlabelled" (CamVid's "Void", for example). */
export function isVoidName(name: string): boolean {
  return VOID_NAMES.test(name.trim());
}

function checkValue(v: number, where: string): number {
  if (!Number.isInteger(v) || v < 0 || v > MAX_LABEL_VALUE) {
    throw new GapsegError(`${where}: label value ${JSON.stringify(v)} is not an integer in 0..${MAX_LABEL_VALUE}`);
  }
  return v;
}

/** Check a description for duplicates and emptiness; returns it for chaining. */
export function validateClasses(desc: ClassDescription, where: string): ClassDescription {
  if (desc.classes.length === 0) throw new GapsegError(`${where}: no real classes (only void) are described`);
  if (desc.classes.length > MAX_CLASSES)
    throw new GapsegError(`${where}: ${desc.classes.length} classes; at most ${MAX_CLASSES} are supported`);
  const names = new Set<string>();
  const values = new Set<number>();
  for (const c of desc.classes) {
    checkValue(c.value, where);
    if (!c.name) throw new GapsegError(`${where}: class with value ${c.value} has an empty name`);
    if (names.has(c.name)) throw new GapsegError(`${where}: class name "${c.name}" appears twice`);
    if (values.has(c.value)) throw new GapsegError(`${where}: label value ${c.value} is given to two classes`);
    names.add(c.name);
    values.add(c.value);
  }
  for (const v of desc.voidValues) {
    checkValue(v, where);
    if (values.has(v)) throw new GapsegError(`${where}: label value ${v} is both a class and void`);
  }
  return desc;
}

/** Parse a fastai-style codes.txt: line i names label value i; "void"-like names are void. */
export function parseCodesTxt(text: string, file: string, extraVoid: string[] = []): ClassDescription {
  const lines = text.replace(/\r/g, '').split('\n');
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new GapsegError(`${file}: empty; expected one class name per line`);
  const classes: ClassInfo[] = [];
  const voidValues: number[] = [];
  lines.forEach((raw, value) => {
    const name = raw.trim();
    if (!name) throw new GapsegError(`${file}: line ${value + 1} is blank; every label value needs a name`);
    if (isVoidName(name) || extraVoid.includes(name)) voidValues.push(value);
    else classes.push({ name, value, color: defaultColor(classes.length) });
  });
  return validateClasses({ classes, voidValues }, file);
}

type JsonClass = string | { name: string; value?: number; color?: RGB | string };

/**
 * A void label value that is not also given to a class, which would make the class silently
 * void (naming the class itself as void is how to say that).
 */
function notAClass(value: number, entries: readonly { name: string; value: number }[], where: string): number {
  const c = entries.find((e) => e.value === value && !isVoidName(e.name));
  if (c) throw new GapsegError(`${where}: label value ${value} is both the class "${c.name}" and void; give it one meaning`);
  return value;
}

function parseColor(c: unknown, where: string): RGB | undefined {
  if (c === undefined) return undefined;
  if (typeof c === 'string' && /^#[0-9a-f]{6}$/i.test(c)) {
    return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as RGB;
  }
  if (Array.isArray(c) && c.length === 3 && c.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) return c as RGB;
  throw new GapsegError(`${where}: colour ${JSON.stringify(c)} is not "#rrggbb" or [r, g, b]`);
}

/**
 * Parse a gapseg.json class description. Accepted forms of "classes":
 * an array of names (index = value), an array of {name, value, color}, or an object
 * mapping value to name. "void" is a value, a name, or an array of them.
 */
export function parseClassesJson(text: string, file: string): ClassDescription {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new GapsegError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GapsegError(`${file}: expected a JSON object with a "classes" field`);
  }
  const obj = json as { classes?: unknown; void?: unknown };
  const entries: { name: string; value: number; color?: RGB }[] = [];
  const raw = obj.classes;
  if (Array.isArray(raw)) {
    raw.forEach((c: JsonClass, i) => {
      if (typeof c === 'string') entries.push({ name: c, value: i });
      else if (c && typeof c === 'object' && typeof c.name === 'string') {
        entries.push({ name: c.name, value: c.value ?? i, color: parseColor(c.color, file) });
      } else throw new GapsegError(`${file}: classes[${i}] must be a name or {"name": ..., "value": ...}`);
    });
  } else if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      const value = Number(k);
      if (!/^\d+$/.test(k)) throw new GapsegError(`${file}: classes key "${k}" is not a label value`);
      if (typeof v === 'string') entries.push({ name: v, value });
      else if (v && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string') {
        entries.push({ name: (v as { name: string }).name, value, color: parseColor((v as { color?: unknown }).color, file) });
      } else throw new GapsegError(`${file}: classes["${k}"] must be a name or {"name": ...}`);
    }
  } else {
    throw new GapsegError(`${file}: missing "classes" (an array of names or an object value -> name)`);
  }
  const voidSpec = obj.void === undefined ? [] : Array.isArray(obj.void) ? obj.void : [obj.void];
  const voidValues: number[] = [];
  for (const v of voidSpec) {
    if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) voidValues.push(notAClass(Number(v), entries, file));
    else if (typeof v === 'string') {
      const e = entries.find((c) => c.name === v);
      if (!e) throw new GapsegError(`${file}: void names "${v}", which is not a class name`);
      voidValues.push(e.value);
    } else throw new GapsegError(`${file}: "void" entries must be label values or class names`);
  }
  // Classes named like void are void too, as in codes.txt.
  for (const e of entries) if (isVoidName(e.name) && !voidValues.includes(e.value)) voidValues.push(e.value);
  const classes = entries
    .filter((e) => !voidValues.includes(e.value))
    .map((e, i) => ({ name: e.name, value: e.value, color: e.color ?? defaultColor(i) }));
  return validateClasses({ classes, voidValues }, file);
}

/**
 * Parse command-line class text: "0=background,255=smoke" (value=name pairs) or
 * "background,smoke" (names, values 0..n-1). `voidSpec` lists void values or names.
 */
export function parseClassesFlag(text: string, voidSpec: string[] = []): ClassDescription {
  const where = '--classes';
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new GapsegError(`${where}: empty; expected e.g. "0=background,255=smoke"`);
  const entries = parts.map((p, i) => {
    const m = /^(\d+)\s*[=:]\s*(.+)$/.exec(p);
    return m ? { value: Number(m[1]), name: m[2].trim() } : { value: i, name: p };
  });
  const voidValues: number[] = [];
  for (const v of voidSpec
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (/^\d+$/.test(v)) voidValues.push(notAClass(Number(v), entries, '--void'));
    else {
      const e = entries.find((c) => c.name === v);
      if (!e) throw new GapsegError(`--void: "${v}" is neither a label value nor a class name`);
      voidValues.push(e.value);
    }
  }
  for (const e of entries) if (isVoidName(e.name) && !voidValues.includes(e.value)) voidValues.push(e.value);
  const classes = entries.filter((e) => !voidValues.includes(e.value)).map((e, i) => ({ ...e, color: defaultColor(i) }));
  return validateClasses({ classes, voidValues }, where);
}

/** Read a class description from a codes.txt or gapseg.json file (by name). */
export function readClassFile(file: string): ClassDescription {
  const text = readTextFile(file);
  return path.extname(file).toLowerCase() === '.json' ? parseClassesJson(text, file) : parseCodesTxt(text, file);
}

/** Find a class description beside a dataset: gapseg.json first, then codes.txt. */
export function findClassFile(dir: string): string | null {
  for (const name of ['gapseg.json', 'codes.txt']) {
    const f = path.join(dir, name);
    if (fs.existsSync(f)) return f;
  }
  return null;
}

/** Serialise a description to the gapseg.json form (stored in run folders and models). */
export function classesToJson(desc: ClassDescription): object {
  return {
    classes: desc.classes.map((c) => ({ name: c.name, value: c.value, color: c.color })),
    void: desc.voidValues,
  };
}

/**
 * The label map: a lookup table from label value to class index, VOID_INDEX for void
 * values, and -1 for values the description does not know.
 */
export function labelMap(desc: ClassDescription): Int16Array {
  const table = new Int16Array(MAX_LABEL_VALUE + 1).fill(-1);
  desc.classes.forEach((c, i) => (table[c.value] = i));
  for (const v of desc.voidValues) table[v] = VOID_INDEX;
  return table;
}

/**
 * Encode raw label values to class indices (VOID_INDEX for void). Unknown values are a user
 * error naming the file, the value and one pixel where it occurs.
 */
export function encodeLabels(values: ArrayLike<number>, width: number, table: Int16Array, file: string): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const k = table[values[i]];
    if (k < 0) {
      const known = [];
      for (let v = 0; v < table.length && known.length < 8; v++) if (table[v] >= 0) known.push(v);
      throw new GapsegError(
        `${file}: label value ${values[i]} at pixel (x=${i % width}, y=${Math.floor(i / width)}) is not in the class description (known values: ${known.join(', ')})`,
      );
    }
    out[i] = k;
  }
  return out;
}

/** Map class indices back to the dataset's own label values (void stays the first void value, or 0). */
export function decodeLabels(indices: Uint8Array, desc: ClassDescription): Uint16Array {
  const lut = new Uint16Array(256);
  desc.classes.forEach((c, i) => (lut[i] = c.value));
  lut[VOID_INDEX] = desc.voidValues[0] ?? 0;
  const out = new Uint16Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = lut[indices[i]];
  return out;
}

/** Index of the class with this name, or a user error listing the names. */
export function classIndex(desc: ClassDescription, name: string): number {
  const i = desc.classes.findIndex((c) => c.name === name);
  if (i < 0) {
    throw new GapsegError(`unknown class "${name}"; classes are: ${desc.classes.map((c) => c.name).join(', ')}`);
  }
  return i;
}
