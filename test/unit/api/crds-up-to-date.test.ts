// The committed CRD YAML (crds/ and the Helm chart's templates/crds/) and src/api/generated/types.ts must be exactly what
// the schema source generates: run `npm run crds` after changing src/api/ and commit the result.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { CRD_SOURCES, crdFileName, renderCrdHelmTemplate, renderCrdYaml } from '../../../src/api/crd.js';
import { API_TYPE_ROOTS, CRD_HELM_TEMPLATE_DIR, CRD_OUTPUT_DIRS, GENERATED_TYPES_PATH } from '../../../src/api/outputs.js';
import { renderTypes } from '../../../src/api/typegen.js';
import { REPO_ROOT } from '../../support/test-env.js';

const HINT = 'out of date: run `npm run crds` and commit the result';

describe('generated API artefacts', () => {
  for (const dir of CRD_OUTPUT_DIRS) {
    for (const source of CRD_SOURCES) {
      const file = join(dir, crdFileName(source));
      it(`${file} is up to date`, () => {
        const committed = readFileSync(join(REPO_ROOT, file), 'utf8');
        expect(committed, `${file} ${HINT}`).toBe(renderCrdYaml(source));
      });
    }
  }

  for (const source of CRD_SOURCES) {
    const file = join(CRD_HELM_TEMPLATE_DIR, crdFileName(source));
    it(`${file} is up to date`, () => {
      const committed = readFileSync(join(REPO_ROOT, file), 'utf8');
      expect(committed, `${file} ${HINT}`).toBe(renderCrdHelmTemplate(source));
    });
  }

  it('the chart has no crds/ directory (Helm would install those once and never upgrade them) and no stray CRD templates', () => {
    expect(existsSync(join(REPO_ROOT, 'helm/pyworkflow-retention-operator/crds'))).toBe(false);
    expect(readdirSync(join(REPO_ROOT, CRD_HELM_TEMPLATE_DIR)).sort()).toEqual(CRD_SOURCES.map(crdFileName).sort());
  });

  it(`${GENERATED_TYPES_PATH} is up to date`, () => {
    const committed = readFileSync(join(REPO_ROOT, GENERATED_TYPES_PATH), 'utf8');
    expect(committed, `${GENERATED_TYPES_PATH} ${HINT}`).toBe(renderTypes(API_TYPE_ROOTS));
  });
});
