// The JSON text shapes of the file store: Python's json.dumps (seeding) and the raw-member rewrite
// (token index, signals). Expected strings were produced by CPython 3.11's json module.
import { describe, expect, it } from 'vitest';
import { pythonJsonDumps } from '../../../../src/backends/file/python-json.js';
import { joinArray, joinObject, rawArrayElements, rawObjectMembers } from '../../../../src/backends/file/raw-json.js';

const value = { a: 1, b: [1, 2, { c: null, d: true }], e: {}, f: [], g: 'ünï\u2028"\\\n\u0001', h: -3.5, i: { j: { k: [] } } };

describe('pythonJsonDumps', () => {
  it('matches json.dumps(v)', () => {
    expect(pythonJsonDumps(value)).toBe(
      '{"a": 1, "b": [1, 2, {"c": null, "d": true}], "e": {}, "f": [], "g": "\\u00fcn\\u00ef\\u2028\\"\\\\\\n\\u0001", "h": -3.5, "i": {"j": {"k": []}}}',
    );
  });

  it('matches json.dumps(v, indent=2)', () => {
    expect(pythonJsonDumps(value, 2)).toBe(
      '{\n  "a": 1,\n  "b": [\n    1,\n    2,\n    {\n      "c": null,\n      "d": true\n    }\n  ],\n  "e": {},\n  "f": [],\n  "g": "\\u00fcn\\u00ef\\u2028\\"\\\\\\n\\u0001",\n  "h": -3.5,\n  "i": {\n    "j": {\n      "k": []\n    }\n  }\n}',
    );
    expect(pythonJsonDumps([], 2)).toBe('[]');
    expect(pythonJsonDumps({}, 2)).toBe('{}');
  });

  it('escapes astral characters as surrogate pairs, like ensure_ascii', () => {
    expect(pythonJsonDumps({ t: '😀' })).toBe('{"t": "\\ud83d\\ude00"}');
  });
});

describe('raw rewrite', () => {
  const signals =
    '[\n  {\n    "signal_id": "s1",\n    "sequence": 0,\n    "payload": {\n      "amount": 1.0\n    }\n  },\n  {\n    "signal_id": "s2",\n    "sequence": 1,\n    "payload": {\n      "x": [\n        1,\n        {\n          "y": 2\n        }\n      ]\n    }\n  },\n  {\n    "signal_id": "s3",\n    "sequence": 2,\n    "payload": {}\n  }\n]';

  it('keeps the elements it keeps exactly as written (1.0 stays a float) and joins them like json.dumps(indent=2)', () => {
    const raw = rawArrayElements(signals);
    expect(raw).toHaveLength(3);
    expect(joinArray(raw)).toBe(signals);
    // json.dumps([s1, s3], indent=2) from Python:
    expect(joinArray([raw[0]!, raw[2]!])).toBe(
      '[\n  {\n    "signal_id": "s1",\n    "sequence": 0,\n    "payload": {\n      "amount": 1.0\n    }\n  },\n  {\n    "signal_id": "s3",\n    "sequence": 2,\n    "payload": {}\n  }\n]',
    );
    expect(joinArray([])).toBe('[]');
  });

  it('splits objects into members without being fooled by separators inside strings', () => {
    const text = pythonJsonDumps({ 'run_a:hook_1': 'run_a:hook_1', 'odd,"key}': ['x, y', { z: '{[' }], 'ü': 'é' }, 2);
    const members = rawObjectMembers(text);
    expect(members.map((m) => m.key)).toEqual(['run_a:hook_1', 'odd,"key}', 'ü']);
    expect(members[1]!.value).toEqual(['x, y', { z: '{[' }]);
    expect(joinObject(members)).toBe(text);
    expect(joinObject([])).toBe('{}');
  });

  it('refuses what is not the expected container', () => {
    expect(() => rawArrayElements('{"a": 1}')).toThrow(SyntaxError);
    expect(() => rawObjectMembers('[1]')).toThrow(SyntaxError);
    expect(() => rawObjectMembers('{"a": ')).toThrow(SyntaxError);
  });
});
