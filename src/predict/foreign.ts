/**
 * What the output channels of a foreign segmentation model mean. A model trained elsewhere
 * (fastai, PyTorch...) usually has one channel per line of its codes.txt, void included: so
 * here, unlike in a gapseg class description, every entry is a channel, in order, and
 * void-named entries are marked so that they can be forbidden.
 */
import path from 'node:path';
import { GapsegError } from '../util/errors.js';
import { readTextFile } from '../util/files.js';
import { defaultColor, isVoidName, parseClassesFlag, parseClassesJson, type RGB } from '../data/classes.js';

export interface ChannelClass {
  name: string;
  /** Label value written for this class. */
  value: number;
  color: RGB;
  /** A void/unlabelled channel: forbidden by default. */
  isVoid: boolean;
}

function finish(entries: { name: string; value: number; color?: RGB; isVoid: boolean }[], where: string): ChannelClass[] {
  if (entries.length < 2) throw new GapsegError(`${where}: a segmentation model needs at least 2 output channels, ${entries.length} named`);
  const names = new Set<string>();
  let real = 0;
  return entries.map((e) => {
    if (names.has(e.name)) throw new GapsegError(`${where}: class name "${e.name}" appears twice`);
    names.add(e.name);
    // Void is drawn untinted (black), so overlays never paint it even when it is allowed.
    const color = e.color ?? (e.isVoid ? ([0, 0, 0] as RGB) : defaultColor(real));
    if (!e.isVoid) real++;
    return { name: e.name, value: e.value, color, isVoid: e.isVoid };
  });
}

/** Channels from codes.txt text: line i is channel i with label value i. */
export function channelsFromCodes(text: string, file: string): ChannelClass[] {
  const lines = text.replace(/\r/g, '').split('\n');
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  return finish(
    lines.map((raw, i) => {
      const name = raw.trim();
      if (!name) throw new GapsegError(`${file}: line ${i + 1} is blank; every channel needs a name`);
      return { name, value: i, isVoid: isVoidName(name) };
    }),
    file,
  );
}

/** Channels from gapseg.json text: its classes in order, void ones included. */
export function channelsFromJson(text: string, file: string): ChannelClass[] {
  // Validates the file (and tells which values are void) with the usual parser.
  const desc = parseClassesJson(text, file);
  const json = JSON.parse(text) as { classes: unknown };
  const entries: { name: string; value: number }[] = [];
  if (Array.isArray(json.classes)) {
    json.classes.forEach((c: unknown, i) => {
      if (typeof c === 'string') entries.push({ name: c, value: i });
      else {
        const o = c as { name: string; value?: number };
        entries.push({ name: o.name, value: o.value ?? i });
      }
    });
  } else {
    for (const [k, v] of Object.entries(json.classes as Record<string, unknown>)) {
      entries.push({ name: typeof v === 'string' ? v : (v as { name: string }).name, value: Number(k) });
    }
  }
  const colors = new Map(desc.classes.map((c) => [c.name, c.color]));
  return finish(
    entries.map((e) => ({ ...e, color: colors.get(e.name), isVoid: desc.voidValues.includes(e.value) })),
    file,
  );
}

/** Channels from a codes.txt or gapseg.json file. */
export function readChannelFile(file: string): ChannelClass[] {
  const text = readTextFile(file);
  return path.extname(file).toLowerCase() === '.json' ? channelsFromJson(text, file) : channelsFromCodes(text, file);
}

/** Channels from --channels text ("background,smoke,void" or "0=background,255=smoke,128=void") and --void-channels. */
export function channelsFromFlag(text: string, voidSpec: string[]): ChannelClass[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const entries = parts.map((p, i) => {
    const m = /^(\d+)\s*[=:]\s*(.+)$/.exec(p);
    return m ? { value: Number(m[1]), name: m[2].trim() } : { value: i, name: p };
  });
  // Validation of values and void names as for a class description.
  const desc = parseClassesFlag(text, voidSpec);
  return finish(
    entries.map((e) => ({ ...e, isVoid: desc.voidValues.includes(e.value) })),
    '--channels',
  );
}
