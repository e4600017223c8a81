// Hygiene of the schema source: every field documented (kubectl explain), every object typed, rules with
// TypeScript twins, and the printer columns kubectl get shows.

import { describe, expect, it } from 'vitest';
import { buildCrd, CRD_SOURCES } from '../../../src/api/crd.js';
import type { Schema } from '../../../src/api/openapi.js';
import { RETENTION_POLICY_PRINTER_COLUMNS } from '../../../src/api/retention-policy.js';

function walk(schema: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(schema, path);
  for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v, `${path}.${k}`, visit);
  if (schema.items) walk(schema.items, `${path}[]`, visit);
  if (schema.additionalProperties) walk(schema.additionalProperties, `${path}{}`, visit);
}

describe.each(CRD_SOURCES.map((s) => [s.names.kind, s] as const))('%s schema', (_kind, source) => {
  it('documents every field except metadata', () => {
    const undocumented: string[] = [];
    walk(source.schema, source.names.kind, (s, path) => {
      if (path.endsWith('.metadata')) return;
      if (!s.description?.trim()) undocumented.push(path);
    });
    expect(undocumented).toEqual([]);
  });

  it('names every object with properties, so the generated types are readable', () => {
    const unnamed: string[] = [];
    walk(source.schema, source.names.kind, (s, path) => {
      if (s.properties && !s.tsName) unnamed.push(path);
    });
    expect(unnamed).toEqual([]);
  });

  it('bounds every string and list a CEL rule reads (the API server refuses unbounded rule cost)', () => {
    const unbounded: string[] = [];
    walk(source.schema, source.names.kind, (s, path) => {
      if (!s['x-kubernetes-validations']) return;
      if (s.type === 'string' && s.maxLength === undefined) unbounded.push(path);
      if (s.type === 'array' && s.maxItems === undefined) unbounded.push(path);
      if (s.type === 'object' && s.additionalProperties && s.maxProperties === undefined) unbounded.push(path);
    });
    expect(unbounded).toEqual([]);
  });

  it('keeps source-only annotations and TypeScript checks out of the CRD', () => {
    const text = JSON.stringify(buildCrd(source));
    expect(text).not.toMatch(/"tsName"|"tsType"|"tsDoc"|"check"/);
  });

  it('writes CEL regular expressions without backslashes (they would need CEL escaping)', () => {
    walk(source.schema, source.names.kind, (s) => {
      for (const rule of s['x-kubernetes-validations'] ?? []) expect(rule.rule).not.toContain('\\');
    });
  });
});

describe('printer columns', () => {
  it('show what kubectl get rp promises: days, backend, schedule, last run, runs deleted, ready, age', () => {
    expect(RETENTION_POLICY_PRINTER_COLUMNS.map((c) => c.name)).toEqual([
      'Days',
      'Backend',
      'Schedule',
      'Last Run',
      'Runs Deleted',
      'Ready',
      'Age',
    ]);
  });
});
