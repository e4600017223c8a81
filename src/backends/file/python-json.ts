// Python's `json.dumps` output shape (default separators, ensure_ascii, optional indent), for writing
// files exactly as pyworkflow writes them when seeding stores for the demo, benchmarks and tests.

/**
 * `json.dumps(value)` / `json.dumps(value, indent=n)`. Numbers are written as JavaScript writes them:
 * the same as Python for the integers and ordinary decimals pyworkflow stores (JavaScript cannot tell
 * `1.0` from `1`).
 */
export function pythonJsonDumps(value: unknown, indent?: number): string {
  return dump(value, indent, 0);
}

function dump(value: unknown, indent: number | undefined, depth: number): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
    return String(value);
  }
  if (typeof value === 'string') return pythonString(value);
  if (value instanceof Date) return pythonString(value.toISOString());
  const open = indent === undefined ? '' : '\n' + ' '.repeat(indent * (depth + 1));
  const close = indent === undefined ? '' : '\n' + ' '.repeat(indent * depth);
  const sep = indent === undefined ? ', ' : ',' + open;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${open}${value.map((v) => dump(v, indent, depth + 1)).join(sep)}${close}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return '{}';
    return `{${open}${entries.map(([k, v]) => `${pythonString(k)}: ${dump(v, indent, depth + 1)}`).join(sep)}${close}}`;
  }
  throw new TypeError(`Object of type ${typeof value} is not JSON serializable`);
}

/** A JSON string literal with every non-ASCII UTF-16 unit escaped as `\uxxxx`, as ensure_ascii does. */
export function pythonString(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
