// Rewriting part of a JSON container without re-serialising what we keep: the members of the top-level
// array or object are cut out of the text as written, so a kept signal's `1.0` stays a float for Python
// and a kept token keeps its exact escaping. Joined again the way Python's json.dumps(indent=2) does.

/** The raw text of each top-level element of a JSON array. Throws SyntaxError unless `text` is one. */
export function rawArrayElements(text: string): string[] {
  const value: unknown = JSON.parse(text); // validates the whole document first
  if (!Array.isArray(value)) throw new SyntaxError('expected a JSON array');
  return splitTopLevel(text, '[', ']').map((m) => m.trim());
}

export interface RawMember {
  /** The decoded key. */
  key: string;
  /** The key as written, quotes included. */
  rawKey: string;
  rawValue: string;
  value: unknown;
}

/** The members of a top-level JSON object, raw. Throws SyntaxError unless `text` is one. */
export function rawObjectMembers(text: string): RawMember[] {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SyntaxError('expected a JSON object');
  return splitTopLevel(text, '{', '}').map((member) => {
    const trimmed = member.trim();
    const keyEnd = endOfString(trimmed, 0);
    const rawKey = trimmed.slice(0, keyEnd);
    const rest = trimmed.slice(keyEnd).trimStart();
    if (!rest.startsWith(':')) throw new SyntaxError('malformed object member');
    const rawValue = rest.slice(1).trim();
    return { key: JSON.parse(rawKey) as string, rawKey, rawValue, value: JSON.parse(rawValue) as unknown };
  });
}

/** `json.dumps(list, indent=2)` for elements written at depth 1 with indent 2. */
export function joinArray(elements: readonly string[]): string {
  return elements.length === 0 ? '[]' : `[\n  ${elements.join(',\n  ')}\n]`;
}

/** `json.dumps(dict, indent=2)` for members written at depth 1 with indent 2. */
export function joinObject(members: readonly Pick<RawMember, 'rawKey' | 'rawValue'>[]): string {
  return members.length === 0 ? '{}' : `{\n  ${members.map((m) => `${m.rawKey}: ${m.rawValue}`).join(',\n  ')}\n}`;
}

/** Splits the inside of the outermost container at top-level commas. Assumes valid JSON. */
function splitTopLevel(text: string, open: string, close: string): string[] {
  const start = text.indexOf(open);
  const end = text.lastIndexOf(close);
  const parts: string[] = [];
  let depth = 0;
  let from = start + 1;
  for (let i = start + 1; i < end; i++) {
    const c = text[i];
    if (c === '"') {
      i = endOfString(text, i) - 1;
    } else if (c === '[' || c === '{') {
      depth += 1;
    } else if (c === ']' || c === '}') {
      depth -= 1;
    } else if (c === ',' && depth === 0) {
      parts.push(text.slice(from, i));
      from = i + 1;
    }
  }
  const last = text.slice(from, end);
  if (last.trim() !== '') parts.push(last);
  return parts;
}

/** Index just past the closing quote of the string starting at `at`. */
function endOfString(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i += 1;
    else if (c === '"') return i + 1;
  }
  throw new SyntaxError('unterminated string');
}
