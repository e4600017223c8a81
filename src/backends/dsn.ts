// URL-style DSNs (scheme://user:password@host:port/database?key=value) of the SQL backends: a strict
// shape check before anyone reads the parts, and the secrets of a DSN whether or not it parses.

/** The scheme of a `scheme://...` DSN, lower-cased; null when it has none. */
export function dsnScheme(dsn: string): string | null {
  return /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(dsn)?.[1]!.toLowerCase() ?? null;
}

/**
 * Why a DSN does not have an unambiguous shape, or null when it does. A password with an unescaped
 * '@', '/', '?' or '#' is read differently by every parser (the WHATWG URL parser takes the last '@'
 * of the authority, asyncpg the first, libpq stops at '/'), so the password would end up in the host
 * name or the database name: looked up in DNS, and printed as part of the target. Such a DSN is
 * refused before any lookup. The reason never quotes the DSN or says which character was found.
 */
export function dsnShapeProblem(dsn: string): string | null {
  const escape = "percent-encode '@' (%40), '/' (%2F), '?' (%3F) and '#' (%23) in the user name and password, and '@' and '#' everywhere else";
  if (dsnScheme(dsn) === null) return 'is not a URI of the form scheme://user:password@host:port/database';
  const start = dsn.indexOf('://');
  // WHATWG drops tabs and newlines silently: the password it would use is not the one written.
  if (/[\x00-\x1f\x7f]/.test(dsn)) return 'holds a control character (a tab or a line break?)';
  const rest = dsn.slice(start + 3);
  if (rest.includes('#')) return `does not parse: ${escape}`;
  const at = rest.indexOf('@');
  if (at >= 0 && (rest.indexOf('@', at + 1) >= 0 || /[/?]/.test(rest.slice(0, at)))) return `does not parse: ${escape}`;
  return null;
}

/**
 * Every string of a DSN that must never be printed: the DSN itself, the password of each way it could
 * be read (anything between "://" and an '@', from the first ':' on; the whole user info up to the
 * last '@' when the DSN does not parse) and `password=` query values, each raw and decoded.
 */
export function dsnSecrets(dsn: string): string[] {
  const out = new Set<string>([dsn]);
  const add = (raw: string, form = false): void => {
    for (const s of [raw, percentDecode(raw), ...(form ? [percentDecode(raw.replace(/\+/g, ' '))] : [])]) {
      out.add(s);
      out.add(encodeURIComponent(s));
    }
  };
  const start = dsn.indexOf('://');
  const rest = start >= 0 ? dsn.slice(start + 3) : dsn;
  const last = rest.lastIndexOf('@');
  for (let at = rest.indexOf('@'); at >= 0; at = rest.indexOf('@', at + 1)) {
    const userInfo = rest.slice(0, at);
    const colon = userInfo.indexOf(':');
    const password = colon >= 0 ? userInfo.slice(colon + 1) : '';
    add(password);
    if (at === last && (password !== '' || dsnShapeProblem(dsn) !== null)) add(userInfo);
  }
  for (const m of dsn.matchAll(/[?&]password=([^&#]*)/gi)) add(m[1]!, true);
  return [...out].filter((s) => s.length > 0);
}

/**
 * Decodes %XX sequences as UTF-8 and leaves a '%' that starts none as it is, like Python's
 * urllib.parse.unquote (what pyworkflow's drivers use), where decodeURIComponent would throw.
 */
export function percentDecode(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}
