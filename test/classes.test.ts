/**
 * Class descriptions: codes.txt, gapseg.json and --classes parsing, validation, and the
 * label map that turns raw label values into class indices (void -> VOID_INDEX).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  VOID_INDEX,
  decodeLabels,
  encodeLabels,
  labelMap,
  parseClassesFlag,
  parseClassesJson,
  parseCodesTxt,
  validateClasses,
  type ClassDescription,
} from '../src/data/classes.js';
import { throwsUser } from './helpers.js';

const names = (d: ClassDescription) => d.classes.map((c) => c.name);
const values = (d: ClassDescription) => d.classes.map((c) => c.value);

test('codes.txt: line index is the value, void-like names are void', () => {
  const d = parseCodesTxt('Sky\nBuilding\nVoid\nTree\n\n', 'codes.txt');
  assert.deepEqual(names(d), ['Sky', 'Building', 'Tree']);
  assert.deepEqual(values(d), [0, 1, 3]);
  assert.deepEqual(d.voidValues, [2]);
});

test('codes.txt: CRLF lines, "unlabelled" and extra void names', () => {
  const d = parseCodesTxt('background\r\nunlabelled\r\nsmoke\r\nmaybe\r\n', 'c.txt', ['maybe']);
  assert.deepEqual(names(d), ['background', 'smoke']);
  assert.deepEqual(values(d), [0, 2]);
  assert.deepEqual(d.voidValues, [1, 3]);
});

test('codes.txt: a blank line inside is an error naming the file and line', () => {
  throwsUser(() => parseCodesTxt('a\n\nb\n', 'data/codes.txt'), 'data/codes.txt', 'line 2');
});

test('codes.txt: empty file and only-void file are errors', () => {
  throwsUser(() => parseCodesTxt('\n\n', 'codes.txt'), 'codes.txt', /empty/);
  throwsUser(() => parseCodesTxt('void\n', 'codes.txt'), 'codes.txt', /no real classes/);
});

test('gapseg.json: array of names (index = value)', () => {
  const d = parseClassesJson('{"classes": ["sky", "cloud"]}', 'g.json');
  assert.deepEqual(names(d), ['sky', 'cloud']);
  assert.deepEqual(values(d), [0, 1]);
  assert.deepEqual(d.voidValues, []);
});

test('gapseg.json: object map value -> name, with a named value void', () => {
  const d = parseClassesJson('{"classes": {"0": "background", "255": "smoke", "128": "edge"}, "void": "edge"}', 'g.json');
  assert.deepEqual(names(d), ['background', 'smoke']);
  assert.deepEqual(values(d), [0, 255]);
  assert.deepEqual(d.voidValues, [128]);
});

test('gapseg.json: array of objects with colours in both forms', () => {
  const d = parseClassesJson(
    JSON.stringify({
      classes: [
        { name: 'bg', value: 0, color: '#102030' },
        { name: 'fg', value: 7, color: [1, 2, 3] },
        { name: 'other', value: 9 },
      ],
    }),
    'g.json',
  );
  assert.deepEqual(values(d), [0, 7, 9]);
  assert.deepEqual(d.classes[0].color, [16, 32, 48]);
  assert.deepEqual(d.classes[1].color, [1, 2, 3]);
  assert.equal(d.classes[2].color.length, 3);
  throwsUser(() => parseClassesJson('{"classes": [{"name": "a", "color": "red"}]}', 'bad.json'), 'bad.json', /colour/);
});

test('gapseg.json: "void" as a name, as an array of values and names, as a numeric string', () => {
  const byName = parseClassesJson('{"classes": ["bg", "unknown", "fg"], "void": "unknown"}', 'g.json');
  assert.deepEqual(names(byName), ['bg', 'fg']);
  assert.deepEqual(byName.voidValues, [1]);

  const mixed = parseClassesJson('{"classes": {"0": "bg", "1": "fg"}, "void": [128, "200"]}', 'g.json');
  assert.deepEqual(names(mixed), ['bg', 'fg']);
  assert.deepEqual(mixed.voidValues, [128, 200]);

  const both = parseClassesJson('{"classes": ["bg", "edge", "fg", "x"], "void": ["edge", "x"]}', 'g.json');
  assert.deepEqual(names(both), ['bg', 'fg']);
  assert.deepEqual(both.voidValues, [1, 3]);
  // A value given to a class and listed as void by value has two meanings: refused, not made void.
  throwsUser(
    () => parseClassesJson('{"classes": {"0": "background", "255": "smoke"}, "void": [255]}', 'g.json'),
    'g.json',
    /label value 255 is both the class "smoke" and void/,
  );
  throwsUser(() => parseClassesFlag('0=background,255=smoke', ['255']), '--void', /label value 255 is both the class "smoke" and void/);

  // A class named like void is void even without a "void" field.
  const implicit = parseClassesJson('{"classes": ["bg", "void", "fg"]}', 'g.json');
  assert.deepEqual(implicit.voidValues, [1]);

  throwsUser(() => parseClassesJson('{"classes": ["bg", "fg"], "void": "nope"}', 'g.json'), 'g.json', '"nope"');
});

test('gapseg.json: invalid JSON and missing classes name the file', () => {
  throwsUser(() => parseClassesJson('{"classes": [', 'data/gapseg.json'), /^data\/gapseg\.json: not valid JSON/);
  throwsUser(() => parseClassesJson('[1, 2]', 'x/gapseg.json'), 'x/gapseg.json');
  throwsUser(() => parseClassesJson('{"void": 1}', 'x/gapseg.json'), 'x/gapseg.json', /"classes"/);
});

test('--classes "0=background,255=smoke" with --void 128', () => {
  const d = parseClassesFlag('0=background,255=smoke', ['128']);
  assert.deepEqual(names(d), ['background', 'smoke']);
  assert.deepEqual(values(d), [0, 255]);
  assert.deepEqual(d.voidValues, [128]);
});

test('--classes names only: values 0..n-1; --void by name', () => {
  const d = parseClassesFlag('sky, cloud ,haze', ['haze']);
  assert.deepEqual(names(d), ['sky', 'cloud']);
  assert.deepEqual(values(d), [0, 1]);
  assert.deepEqual(d.voidValues, [2]);
  throwsUser(() => parseClassesFlag('a,b', ['c']), '--void', '"c"');
  throwsUser(() => parseClassesFlag(' , '), '--classes');
});

test('validateClasses: duplicate names, duplicate values, value both class and void, empty', () => {
  const c = (name: string, value: number) => ({ name, value, color: [0, 0, 0] as [number, number, number] });
  throwsUser(() => validateClasses({ classes: [c('a', 0), c('a', 1)], voidValues: [] }, 'w.json'), 'w.json', /"a" appears twice/);
  throwsUser(
    () => validateClasses({ classes: [c('a', 0), c('b', 0)], voidValues: [] }, 'w.json'),
    'w.json',
    /value 0 is given to two classes/,
  );
  throwsUser(
    () => validateClasses({ classes: [c('a', 0), c('b', 1)], voidValues: [1] }, 'w.json'),
    'w.json',
    /value 1 is both a class and void/,
  );
  throwsUser(() => validateClasses({ classes: [], voidValues: [5] }, 'w.json'), 'w.json', /no real classes/);
  throwsUser(() => validateClasses({ classes: [c('a', 70000)], voidValues: [] }, 'w.json'), 'w.json', /70000/);
  // The same mistakes through the parsers.
  throwsUser(() => parseClassesFlag('0=a,1=a'), '--classes', /appears twice/);
  throwsUser(() => parseClassesFlag('0=a,0=b'), '--classes', /two classes/);
  throwsUser(() => parseClassesJson('{"classes": [{"name": "a", "value": 3}, {"name": "b", "value": 3}]}', 'd.json'), 'd.json');
});

test('labelMap and encodeLabels: classes to indices in order, void to VOID_INDEX', () => {
  const d = parseClassesFlag('0=background,255=smoke,7=edge', ['128']);
  const table = labelMap(d);
  assert.equal(table[0], 0);
  assert.equal(table[255], 1);
  assert.equal(table[7], 2);
  assert.equal(table[128], VOID_INDEX);
  assert.equal(table[1], -1);
  const enc = encodeLabels(new Uint8Array([0, 255, 128, 7, 0, 128]), 3, table, 'l.png');
  assert.deepEqual([...enc], [0, 1, VOID_INDEX, 2, 0, VOID_INDEX]);
  // 16-bit label values.
  const wide = parseClassesJson('{"classes": {"0": "a", "1000": "b"}, "void": [65535]}', 'g.json');
  const encWide = encodeLabels(new Uint16Array([1000, 65535, 0]), 3, labelMap(wide), 'w.png');
  assert.deepEqual([...encWide], [1, VOID_INDEX, 0]);
});

test('encodeLabels: an unknown value names the file, the value and its pixel', () => {
  const d = parseClassesFlag('0=background,255=smoke', ['128']);
  const vals = new Uint8Array(12).fill(0);
  vals[2 * 4 + 3] = 77; // x=3, y=2 in a 4-wide mask
  throwsUser(
    () => encodeLabels(vals, 4, labelMap(d), 'labels/a.png'),
    /^labels\/a\.png: /,
    'label value 77',
    'x=3, y=2',
    /known values: 0, 128, 255/,
  );
});

test('decodeLabels: back to the data set values; void to the first void value', () => {
  const d = parseClassesFlag('0=background,255=smoke,3=edge', ['128', '129']);
  const raw = new Uint16Array([0, 255, 128, 3, 0, 255]);
  const enc = encodeLabels(raw, 3, labelMap(d), 'x.png');
  assert.deepEqual([...decodeLabels(enc, d)], [...raw]);
  const withSecondVoid = encodeLabels(new Uint8Array([129, 0]), 2, labelMap(d), 'x.png');
  assert.deepEqual([...decodeLabels(withSecondVoid, d)], [128, 0]);
});
