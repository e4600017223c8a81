// `npm run crds`: writes the CRD YAML (crds/ and the Helm chart's templates/crds/) and src/api/generated/types.ts
// from the schema source in src/api/. Unit tests fail when the committed files differ from this output.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_TYPE_ROOTS, CRD_HELM_TEMPLATE_DIR, CRD_OUTPUT_DIRS, GENERATED_TYPES_PATH } from '../src/api/outputs.js';
import { CRD_SOURCES, crdFileName, renderCrdHelmTemplate, renderCrdYaml } from '../src/api/crd.js';
import { renderTypes } from '../src/api/typegen.js';

// dist/scripts/generate-crds.js → repository root.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function write(relative: string, text: string): void {
  const path = join(root, relative);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  process.stdout.write(`wrote ${relative}\n`);
}

for (const dir of CRD_OUTPUT_DIRS) {
  for (const source of CRD_SOURCES) write(join(dir, crdFileName(source)), renderCrdYaml(source));
}
for (const source of CRD_SOURCES) write(join(CRD_HELM_TEMPLATE_DIR, crdFileName(source)), renderCrdHelmTemplate(source));
write(GENERATED_TYPES_PATH, renderTypes(API_TYPE_ROOTS));
