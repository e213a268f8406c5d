/**
 * One `.cedar` file → its policies, each with its id and position, or `file:line:col`
 * diagnostics for everything wrong with it.
 *
 * The file is split into statements at top-level `;` (Cedar has no other use for `;` outside
 * string literals and `//` comments), and each statement is parsed on its own. That keeps the
 * source position of every policy — Cedar's text parser numbers them `policy0…` and loses
 * where they were — so a validation error later in the pipeline still points into the file.
 */
import { policyToJson, templateToJson, type DetailedError, type PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Diagnostic } from '../../src/shared/diagnostics.js';

/** A policy as written in a file. */
export interface SourcePolicy {
  /** The `@id("…")` annotation, else `<file>#<n>` (n counts from 1 within the file). */
  id: string;
  /** Whether the id came from an `@id` annotation. */
  annotated: boolean;
  file: string;
  line: number;
  col: number;
  /** Offset of the statement in the file (UTF-16 units). */
  offset: number;
  /** The statement's text, exactly as in the file (from its first token to its `;`). */
  text: string;
  json: PolicyJson;
}

export interface ParsedFile {
  policies: SourcePolicy[];
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

/** Parse the text of one policy file; `file` is the name used in ids and diagnostics. */
export function parsePolicyFile(file: string, text: string): ParsedFile {
  const positions = new TextPositions(text);
  const out: ParsedFile = { policies: [], errors: [], warnings: [] };
  let n = 0;
  for (const stmt of splitStatements(text)) {
    n++;
    const chunk = text.slice(stmt.start, stmt.end);
    const at = positions.lineCol(stmt.start);
    const parsed = policyToJson(chunk);
    if (parsed.type === 'failure') {
      if (templateToJson(chunk).type === 'success') {
        out.errors.push({
          file,
          ...at,
          code: 'policy-template',
          message: 'policy templates (`?principal`, `?resource`) are not supported',
          hint: 'write a static policy naming the principal or resource, or a condition on its attributes',
        });
      } else {
        for (const e of flatten(parsed.errors)) out.errors.push(cedarDiagnostic(e, file, chunk, stmt.start, positions, 'policy-syntax'));
      }
      continue;
    }
    const annotations = parsed.json.annotations ?? {};
    const explicit = annotations.id;
    if (Object.hasOwn(annotations, 'id') && (explicit === null || explicit === undefined || explicit.trim() === '')) {
      out.errors.push({ file, ...at, code: 'policy-id-empty', message: '`@id` needs a value', hint: 'e.g. @id("agent.hr-assistant.hr-tools")' });
      continue;
    }
    const id = explicit ?? `${file}#${n}`;
    if (explicit === undefined || explicit === null) {
      out.warnings.push({
        file,
        ...at,
        code: 'policy-id-missing',
        message: `policy without an @id annotation; the audit trail will call it "${id}", which changes when policies are added above it`,
        hint: 'start the policy with @id("<stable name>")',
      });
    }
    out.policies.push({ id, annotated: explicit !== undefined && explicit !== null, file, ...at, offset: stmt.start, text: chunk, json: parsed.json });
  }
  return out;
}

/**
 * Map a Cedar error to a diagnostic. Cedar reports UTF-8 byte offsets into the text it was
 * given (`chunk`, which starts at `chunkStart` in the file).
 */
export function cedarDiagnostic(
  e: DetailedError,
  file: string,
  chunk: string,
  chunkStart: number,
  positions: TextPositions,
  code: string,
): Diagnostic {
  const loc = e.sourceLocations?.[0];
  const at = loc ? positions.lineCol(chunkStart + byteToCharOffset(chunk, loc.start)) : { line: 0, col: 0 };
  const message = e.message.replace(/^failed to parse polic(y|ies) from string: /, '').replace(/^for policy `[^`]*`, /, '');
  const label = loc?.label ? ` (${loc.label})` : '';
  return { file, ...at, code, message: `${message}${label}`, ...(e.help ? { hint: e.help } : {}) };
}

/** An error and its `related` errors, each reported on its own. */
export function flatten(errors: readonly DetailedError[]): DetailedError[] {
  return errors.flatMap((e) => [e, ...flatten(e.related ?? [])]);
}

/** Statement spans: from the first token after the previous `;` through the next `;`. */
export function splitStatements(text: string): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  let start = -1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '/' && text[i + 1] === '/') {
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? text.length : nl + 1;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (start === -1) start = i;
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    i++;
    if (c === ';') {
      out.push({ start, end: i });
      start = -1;
    }
  }
  // A last statement without its `;`: Cedar reports the missing `;`.
  if (start !== -1) out.push({ start, end: text.length });
  return out;
}

/** Line and column (both 1-based, columns in UTF-16 units as editors count) of an offset. */
export class TextPositions {
  private readonly lineStarts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }
  lineCol(offset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.lineStarts[lo]! + 1 };
  }
}

/** Cedar (Rust) counts UTF-8 bytes; JavaScript strings count UTF-16 units. */
export function byteToCharOffset(text: string, byteOffset: number): number {
  if (/^[\x00-\x7f]*$/.test(text)) return byteOffset;
  return Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8').length;
}
