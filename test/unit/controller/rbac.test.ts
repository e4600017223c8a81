// The Helm chart grants the controller exactly what its reconcilers declare next to their code (RBAC
// consts): the union for the policies' namespaces (ClusterRole or Roles), leases for leader election.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { RBAC as EVENTS_RBAC } from '../../../src/controller/events.js';
import { RBAC as LEADER_ELECTION_RBAC } from '../../../src/controller/leader-election.js';
import { RBAC as POLICY_RBAC } from '../../../src/reconcilers/retention-policy.js';
import { RBAC as BACKEND_RBAC } from '../../../src/reconcilers/storage-backend.js';
import { REPO_ROOT } from '../../support/test-env.js';

interface Rule {
  apiGroups: readonly string[];
  resources: readonly string[];
  verbs: readonly string[];
}

/** "group/resource verb" for every combination a rule grants. */
function permissions(rules: readonly Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.add(`${g || 'core'}/${res} ${v}`);
  return [...out].sort();
}

const template = readFileSync(join(REPO_ROOT, 'helm/pyworkflow-retention-operator/templates/rbac.yaml'), 'utf8');

function chartNamespaceRules(): Rule[] {
  const m = /\{\{-\s*define "pyworkflow-retention\.rules"\s*-?\}\}([\s\S]*?)\{\{-?\s*end\s*-?\}\}/.exec(template);
  if (!m) throw new Error('rbac.yaml has no "pyworkflow-retention.rules" block');
  return parseYaml(m[1]!) as Rule[];
}

function chartLeaseRules(): Rule[] {
  const m = /kind: Role\n[\s\S]*?-leader-election[\s\S]*?rules:\n([\s\S]*?)\n---/.exec(template);
  if (!m) throw new Error('rbac.yaml has no leader-election Role');
  return parseYaml(m[1]!.replace(/^ {2}/gm, '')) as Rule[];
}

describe('RBAC: the chart grants exactly what the reconcilers declare', () => {
  it('the namespace rules (ClusterRole, or Roles per watched namespace) equal the union of the reconcilers’ RBAC', () => {
    const declared = permissions([...POLICY_RBAC, ...BACKEND_RBAC, ...EVENTS_RBAC]);
    const granted = permissions(chartNamespaceRules());
    expect({ missingFromChart: declared.filter((p) => !granted.includes(p)), notNeeded: granted.filter((p) => !declared.includes(p)) }).toEqual({ missingFromChart: [], notNeeded: [] });
  });

  it('the leader-election Role equals what the lease needs', () => {
    expect(permissions(chartLeaseRules())).toEqual(permissions(LEADER_ELECTION_RBAC));
  });

  it('no access to Secrets anywhere', () => {
    expect(permissions([...POLICY_RBAC, ...BACKEND_RBAC, ...EVENTS_RBAC, ...LEADER_ELECTION_RBAC]).some((p) => p.includes('secrets'))).toBe(false);
    expect(template).not.toMatch(/secrets/);
  });
});
