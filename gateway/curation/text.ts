/**
 * The text of a definition, as the rules read it: every string (and every object key) with its
 * JSON Pointer, and a way to show characters that a person would not see.
 */

/** A string found in a definition, and where. `key` is true when the string is an object key. */
export interface TextAt {
  pointer: string;
  text: string;
  key: boolean;
}

/** RFC 6901 escaping of one reference token. */
export function token(s: string | number): string {
  return String(s).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Every string value and object key under `value`, depth-first, with its pointer (from `base`). */
export function textsOf(value: unknown, base = ''): TextAt[] {
  const out: TextAt[] = [];
  const walk = (v: unknown, path: string, depth: number): void => {
    if (depth > 64) return;
    if (typeof v === 'string') out.push({ pointer: path, text: v, key: false });
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}/${i}`, depth + 1));
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push({ pointer: `${path}/${token(k)}`, text: k, key: true });
        walk(x, `${path}/${token(k)}`, depth + 1);
      }
    }
  };
  walk(value, base, 0);
  return out;
}

/** Unicode tag characters (U+E0000–U+E007F): invisible, and they spell ASCII ("ASCII smuggling"). */
export const TAG_CHARS = /[\u{E0000}-\u{E007F}]/u;
/** Zero-width and other invisible formatting characters (bidi controls are apart). */
export const ZERO_WIDTH = /[\u200B\u200C\u200D\u2060-\u2064\uFEFF\u180E\u00AD\u034F\u115F\u1160\u3164\uFFA0]/;
/** Bidirectional controls: embeddings, overrides, isolates, and the marks (Trojan Source, CVE-2021-42574). */
export const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/;

const ALL_HIDDEN = /[\u{E0000}-\u{E007F}]+|[\u200B\u200C\u200D\u2060-\u2064\uFEFF\u180E\u00AD\u034F\u115F\u1160\u3164\uFFA0\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/gu;

/** What tag characters spell, e.g. `\u{E0068}\u{E0069}` → `hi`. */
export function decodeTags(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xe0020 && cp <= 0xe007e) out += String.fromCodePoint(cp - 0xe0000);
  }
  return out;
}

/**
 * The text with every hidden character made visible: `⟨U+200B⟩`, and a run of tag characters
 * as `⟨tags: "what they spell"⟩`. Control characters other than line breaks are shown too.
 */
export function showHidden(s: string): string {
  return s
    .replace(ALL_HIDDEN, (m) => {
      const first = m.codePointAt(0)!;
      if (first >= 0xe0000) return `⟨tags: ${JSON.stringify(decodeTags(m))}⟩`;
      return `⟨U+${first.toString(16).toUpperCase().padStart(4, '0')}⟩`;
    })
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}

/** A short quote of `s` around `index` (hidden characters shown), for a finding's message. */
export function quote(s: string, index = 0, length = 0, width = 90): string {
  let start = Math.max(0, index - Math.floor(Math.max(0, width - length) / 2));
  let end = Math.min(s.length, start + Math.max(width, length));
  // Never split a surrogate pair (a tag character is two UTF-16 units).
  if (start > 0 && /[\uDC00-\uDFFF]/.test(s[start] ?? '')) start--;
  if (end < s.length && /[\uD800-\uDBFF]/.test(s[end - 1] ?? '')) end++;
  const body = showHidden(s.slice(start, end)).replace(/\s+/g, ' ');
  return `"${start > 0 ? '…' : ''}${body}${end < s.length ? '…' : ''}"`;
}

/** A property schema's own description or title (for usability rules). */
export function describes(s: unknown): boolean {
  if (!s || typeof s !== 'object') return false;
  const o = s as { description?: unknown; title?: unknown };
  return (typeof o.description === 'string' && o.description.trim().length > 0) || (typeof o.title === 'string' && o.title.trim().length > 0);
}

/** Words of a name: `get_fileInfo-v2` → ["get", "file", "info", "v2"]. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}
