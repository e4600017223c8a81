// Comments, tests, scripts and the README cite the storage reference docs/storage.md by its anchors
// (`docs/storage.md#time`) and its hazard numbers (H1..H25). This keeps every such citation
// followable: it fails on an anchor or hazard number the doc does not define, on a section number
// of the old numbering (§), and on any mention of the outside document the code used to cite.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOC = 'docs/storage.md';
/** Everything in the repository that may carry a citation (node_modules and build output never). */
const SCANNED = ['src', 'test', 'bench', 'scripts', 'helm', 'crds', 'examples', 'deploy', 'docs', 'README.md', 'Dockerfile'];
const TEXT_FILE = /(\.(ts|js|mjs|cjs|py|sh|md|ya?ml|json|tpl|txt)|(^|\/)Dockerfile)$/;
/** This file plants bad citations in its own examples. */
const SELF = 'test/unit/docs-citations.test.ts';
/** The document outside the repository the code used to cite (spelled in two parts so this file does not cite it). */
const OUTSIDE_DOC = ['pyworkflow', 'storage.md'].join('-');

interface DocTargets {
  anchors: Set<string>;
  hazards: Set<number>;
}

/** The anchors (`<a id="...">`) and hazard numbers (`### H<n> — ...` under anchor `h<n>`) the doc defines. */
function docTargets(doc: string): DocTargets {
  const anchors = new Set<string>();
  for (const m of doc.matchAll(/<a id="([^"]+)"><\/a>/g)) anchors.add(m[1]!);
  const hazards = new Set<number>();
  for (const m of doc.matchAll(/^### H(\d+) — \S/gm)) {
    const n = Number(m[1]);
    if (anchors.has(`h${n}`)) hazards.add(n);
  }
  return { anchors, hazards };
}

/** Every citation in `text` that does not resolve, as `file:line: what`. */
function unresolved(file: string, text: string, targets: DocTargets): string[] {
  const out: string[] = [];
  const at = (index: number): string => `${file}:${text.slice(0, index).split('\n').length}`;
  for (const m of text.matchAll(new RegExp(OUTSIDE_DOC.replace('.', '\\.'), 'g'))) {
    out.push(`${at(m.index)}: cites ${OUTSIDE_DOC}, which is not in the repository; cite ${DOC}`);
  }
  for (const m of text.matchAll(/§\s*\d/g)) out.push(`${at(m.index)}: a section number (${m[0]}); cite a ${DOC} anchor`);
  // `docs/storage.md#a`, and further anchors of the same citation: `docs/storage.md#a, #b`.
  for (const m of text.matchAll(/docs\/storage\.md((?:#[\w-]+)(?:,\s*#[\w-]+)*)/g)) {
    for (const anchor of m[1]!.split(/,\s*/).map((a) => a.slice(1))) {
      if (!targets.anchors.has(anchor)) out.push(`${at(m.index)}: ${DOC}#${anchor} is not an anchor of ${DOC}`);
    }
  }
  if (file === DOC) {
    for (const m of text.matchAll(/\]\(#([\w-]+)\)/g)) {
      if (!targets.anchors.has(m[1]!)) out.push(`${at(m.index)}: link to #${m[1]!}, which ${DOC} does not define`);
    }
  }
  for (const m of text.matchAll(/\bH(\d{1,3})\b/g)) {
    if (!targets.hazards.has(Number(m[1]))) out.push(`${at(m.index)}: hazard H${m[1]!} is not defined in ${DOC}`);
  }
  return out;
}

function filesUnder(path: string): string[] {
  const full = join(ROOT, path);
  const st = statSync(full, { throwIfNoEntry: false });
  if (st === undefined) return [];
  if (st.isFile()) return [path];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((f) => TEXT_FILE.test(f) && !f.split('/').includes('node_modules'));
}

const docText = readFileSync(join(ROOT, DOC), 'utf8');
const targets = docTargets(docText);

describe('docs/storage.md citations', () => {
  it('the doc defines hazards H1..H25, each under its own anchor, and no anchor twice', () => {
    expect([...targets.hazards].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const ids = [...docText.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]);
    expect(ids.length).toBe(new Set(ids).size);
  });

  it('every citation in the repository resolves, and none names the outside document', () => {
    const files = SCANNED.flatMap(filesUnder).filter((f) => f !== SELF);
    expect(files).toContain('src/backends/backend.ts');
    expect(files).toContain('README.md');
    expect(files).toContain(DOC);
    const problems = files.flatMap((f) => unresolved(f, readFileSync(join(ROOT, f), 'utf8'), targets));
    expect(problems).toEqual([]);
  });

  it('the check catches each kind of broken citation', () => {
    const planted = [
      `// see ${OUTSIDE_DOC} H5`,
      '// as in §3.1',
      '// (docs/storage.md#postgres, #no-such-section)',
      '// (docs/storage.md#nowhere)',
      '// the hazard H26',
    ].join('\n');
    expect(unresolved('x.ts', planted, targets)).toEqual([
      `x.ts:1: cites ${OUTSIDE_DOC}, which is not in the repository; cite ${DOC}`,
      `x.ts:2: a section number (§3); cite a ${DOC} anchor`,
      `x.ts:3: ${DOC}#no-such-section is not an anchor of ${DOC}`,
      `x.ts:4: ${DOC}#nowhere is not an anchor of ${DOC}`,
      `x.ts:5: hazard H26 is not defined in ${DOC}`,
    ]);
    expect(unresolved('x.ts', '// (docs/storage.md#time, #h5; H1, H25)', targets)).toEqual([]);
    expect(unresolved(DOC, 'see [Hazards](#hazards) and [gone](#gone)', targets)).toEqual([
      `${DOC}:1: link to #gone, which ${DOC} does not define`,
    ]);
  });
});
