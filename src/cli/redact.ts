// Replaces known secret strings in anything the CLI prints: a last line of defence behind backends
// that already keep passwords out of their messages.

export type Redactor = (text: string) => string;

export function createRedactor(secrets: readonly string[]): Redactor {
  const sorted = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (sorted.length === 0) return (t) => t;
  return (text) => sorted.reduce((acc, s) => acc.split(s).join('***'), text);
}
