// The rules Kubernetes applies to a pod template (label and annotation keys, label values, resource
// quantities, time zones), written as schema pieces and CEL rules with their TypeScript twins, so that
// admission of a RetentionPolicy refuses what the API server would later refuse in its CronJob.
// Regular expressions are written without backslashes: they sit inside CEL string literals.

import { cel, type CelRule, type Schema } from './openapi.js';

/** A DNS-1123 subdomain, the optional prefix of a qualified name. */
const PREFIX = '[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
/** The name part of a qualified name: 1-63 alphanumerics, '-', '_' or '.', alphanumeric at both ends. */
const NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
/** A qualified name (label and annotation keys, topology keys): `[prefix/]name`. */
export const QUALIFIED_NAME = `^(${PREFIX}/)?${NAME}$`;
/** The prefix of a qualified name has at most 253 characters (RE2 cannot count inside the structure above). */
export const QUALIFIED_NAME_PREFIX_LENGTH = '^([^/]{1,253}/)?[^/]+$';
/** A label value: empty, or 1-63 alphanumerics, '-', '_' or '.', alphanumeric at both ends. */
export const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
/** Longest qualified name: a 253-character prefix, '/', a 63-character name. */
export const QUALIFIED_NAME_MAX = 317;

const QUALIFIED_NAME_RE = new RegExp(QUALIFIED_NAME);
const QUALIFIED_NAME_PREFIX_LENGTH_RE = new RegExp(QUALIFIED_NAME_PREFIX_LENGTH);

export function isQualifiedName(key: string): boolean {
  return QUALIFIED_NAME_RE.test(key) && QUALIFIED_NAME_PREFIX_LENGTH_RE.test(key);
}

/** A string that must be a qualified name (e.g. a toleration or topology key). */
export function qualifiedName(description: string, options: { allowEmpty?: boolean } = {}): Schema {
  return {
    type: 'string',
    description,
    maxLength: QUALIFIED_NAME_MAX,
    ...(options.allowEmpty ? {} : { minLength: 1 }),
    'x-kubernetes-validations': [
      cel<string>(
        options.allowEmpty
          ? `self == '' || (self.matches('${QUALIFIED_NAME}') && self.matches('${QUALIFIED_NAME_PREFIX_LENGTH}'))`
          : `self.matches('${QUALIFIED_NAME}') && self.matches('${QUALIFIED_NAME_PREFIX_LENGTH}')`,
        'must be a qualified name: an optional DNS subdomain prefix and "/", then 1-63 letters, digits, "-", "_" or "." that start and end with a letter or digit',
        (s) => (options.allowEmpty === true && s === '') || isQualifiedName(s),
      ),
    ],
  };
}

/** A label value (at most 63 characters; the pattern names the field in its message). */
export function labelValue(description: string): Schema {
  return { type: 'string', description, maxLength: 63, pattern: LABEL_VALUE };
}

/** Every key of a map (labels, annotations, node selector) is a qualified name, as the API server requires of a pod. */
export function qualifiedKeysRule(what: string): CelRule {
  return cel<Record<string, unknown>>(
    `self.all(k, k.matches('${QUALIFIED_NAME}') && k.matches('${QUALIFIED_NAME_PREFIX_LENGTH}'))`,
    `${what} keys must be qualified names: an optional DNS subdomain prefix and "/", then 1-63 letters, digits, "-", "_" or "." that start and end with a letter or digit`,
    (s) => Object.keys(s).every(isQualifiedName),
  );
}

// --- Time zones

/**
 * Whether a time zone exists: the API server's CEL converts a fixed instant with it (Go's time zone
 * database, the one kube-controller-manager schedules CronJobs with); here the JavaScript runtime's.
 * Go's zone names are case-sensitive while Intl accepts any case: a name that differs from Intl's
 * canonical spelling only in case is refused, as Go would.
 */
export function timeZoneExists(timeZone: string): boolean {
  if (timeZone.toLowerCase() === 'local') return false;
  let canonical: string;
  try {
    canonical = new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return false;
  }
  return canonical === timeZone || canonical.toLowerCase() !== timeZone.toLowerCase();
}

/**
 * CEL: a zone that does not exist makes `getHours` fail, and the API server reports that failure on this
 * field. `Local` exists for Go but means the controller-manager's own zone, which the CronJob API refuses.
 */
export const TIME_ZONE_EXISTS_RULES: CelRule[] = [
  cel<string>(
    "self.lowerAscii() != 'local'",
    'must be an explicit IANA time zone such as UTC or Europe/Berlin, not Local',
    (s) => s.toLowerCase() !== 'local',
  ),
  cel<string>(
    "timestamp('2000-01-01T00:00:00Z').getHours(self) >= 0",
    'must be a time zone of the IANA time zone database, such as UTC or Europe/Berlin',
    timeZoneExists,
  ),
];

// --- Resource quantities

/** A resource quantity, never negative (the pod API refuses negative requests and limits). */
export const QUANTITY_PATTERN = '^[+]?(([0-9]+([.][0-9]*)?)|([.][0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+([.][0-9]*)?)|([.][0-9]+))))?$';
const QUANTITY_RE = new RegExp(QUANTITY_PATTERN);
const SUFFIX_FACTORS: Record<string, number> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

/** The value of a quantity (500m → 0.5, 1Gi → 1073741824), precise enough to compare requests with limits. */
export function quantityValue(q: number | string): number {
  if (typeof q === 'number') return q;
  if (!QUANTITY_RE.test(q)) return NaN;
  const m = /^[+]?([0-9.]+)(.*)$/.exec(q)!;
  const suffix = m[2]!;
  if (suffix.startsWith('e') || suffix.startsWith('E')) return Number(`${m[1]}${suffix}`);
  return Number(m[1]) * (SUFFIX_FACTORS[suffix] ?? NaN);
}

/** The container resources a run pod may ask for; others (extended resources, hugepages) have their own rules a run never needs. */
export const RESOURCE_NAMES = ['cpu', 'memory', 'ephemeral-storage'] as const;
const RESOURCE_LIST = RESOURCE_NAMES.map((n) => `'${n}'`).join(', ');

export const RESOURCE_NAMES_RULE: CelRule = cel<Record<string, unknown>>(
  `self.all(k, k in [${RESOURCE_LIST}])`,
  `resource names must be ${RESOURCE_NAMES.join(', ')}`,
  (s) => Object.keys(s).every((k) => (RESOURCE_NAMES as readonly string[]).includes(k)),
);

/** Integers in the int-or-string form must not be negative either (the pattern covers only strings). */
export const NON_NEGATIVE_QUANTITIES_RULE: CelRule = cel<Record<string, number | string>>(
  "self.all(k, type(self[k]) != int || int(self[k]) >= 0)",
  'quantities must not be negative',
  (s) => Object.values(s).every((v) => typeof v !== 'number' || v >= 0),
);

/** Requests may not exceed limits (the pod API refuses such a container). */
export const REQUESTS_WITHIN_LIMITS_RULE: CelRule = cel<{ requests?: Record<string, number | string>; limits?: Record<string, number | string> }>(
  '!has(self.requests) || !has(self.limits) || self.requests.all(k, !(k in self.limits) || ' +
    '!quantity(string(self.requests[k])).isGreaterThan(quantity(string(self.limits[k]))))',
  'each request must be less than or equal to the limit of the same resource',
  (s) => Object.entries(s.requests ?? {}).every(([k, v]) => s.limits?.[k] === undefined || !(quantityValue(v) > quantityValue(s.limits[k]))),
  { fieldPath: '.requests' },
);

// --- Image references

const DOMAIN_COMPONENT = '[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?';
const PATH_COMPONENT = '[a-z0-9]+(([._]|__|[-]+)[a-z0-9]+)*';
/**
 * An image reference as the kubelet parses it (the distribution/reference grammar): an optional registry
 * (host or [IPv6], optional port), lowercase path components, an optional tag and an optional digest.
 * The pod API checks only for surrounding whitespace; anything else fails later, in the kubelet, as
 * InvalidImageName. A JSON Schema pattern (RE2 in the API server, JavaScript here), not a CEL rule, so
 * its backslashes need no CEL escaping.
 */
export const IMAGE_REFERENCE =
  `^((${DOMAIN_COMPONENT}([.]${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(:[0-9]+)?/)?` +
  `${PATH_COMPONENT}(/${PATH_COMPONENT})*` +
  '(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?' +
  '(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$';
