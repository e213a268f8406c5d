/**
 * Looks for tokens in what the test suite wrote. Three ways, so that neither a token-shaped
 * regex alone nor a list of known tokens alone decides:
 *
 *  1. every JWT — a JSON header with `alg`, a dot, a JSON payload: whoever minted it, however
 *     it got there, and also cut short (a path truncated after the token began);
 *  2. every token a test process signed (the ledger, test/setup/token-watch.ts), its payload
 *     and its signature alone, and 32-character pieces of its signature (the high-entropy part:
 *     a token logged without its header, or cut up);
 *  3. the same in standard base64 and percent-encoding.
 *
 * Run attestations (JWTs of type `skillgate-run+jwt` / `skillgate-approval+jwt`, docs/security.md)
 * are not bearer credentials and belong in workflow histories: allowed there, findings elsewhere.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface Finding {
  file: string;
  what: string;
  /** Never the token: its first characters and a hash are enough to find it. */
  sample: string;
}

export interface ScanReport {
  files: number;
  bytes: number;
  /** Files by what they are: log, audit store, export, history, other. */
  kinds: Record<string, number>;
  findings: Finding[];
}

// A JOSE header and the start of a JSON payload (`eyJ` is base64url of `{"`); the signature may be cut off.
const JWT = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{16,}(?:\.[A-Za-z0-9_-]*)?/g;
const ATTESTATION = /^skillgate-(run|approval)\+jwt$/;

/** What kind of file this is, for the report (and where attestations are allowed). */
export function kindOf(file: string): string {
  const name = basename(file);
  if (/\.log$/.test(name) || name.endsWith('.log.1')) return 'log';
  if (/temporal.*\.db(-wal|-shm)?$/.test(name)) return 'history';
  if (/\.(db|sqlite)(-wal|-shm)?$/.test(name)) return 'store';
  if (/\.jsonl$/.test(name)) return 'export';
  if (/histor/.test(file) && name.endsWith('.json')) return 'history';
  return 'other';
}

/** A run attestation's header (docs/security.md): bound to its run, kept in its history. */
export function isAttestation(h: { typ?: unknown }): boolean {
  return typeof h.typ === 'string' && ATTESTATION.test(h.typ);
}

/** The JOSE header of a token, if its first part is one. */
export function header(part: string): { alg?: unknown; typ?: unknown } | undefined {
  try {
    const h = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return h && typeof h === 'object' && 'alg' in h ? (h as { alg?: unknown; typ?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The needles of one known token: the whole; its payload and signature parts; and 32-character
 * pieces of its signature (the start, the middle, the end). In three encodings. (The header is
 * left out: every token of an issuer shares it; a token cut short after its header is rule 1's.)
 */
export function needlesOf(token: string): string[] {
  const parts = token.split('.');
  const signature = parts[2] ?? '';
  // Pieces of the signature only: a payload's start (`{"scope":"openid mcp",…`) is shared by many tokens.
  const pieces = signature.length >= 64 ? [signature.slice(0, 32), signature.slice(Math.floor(signature.length / 2) - 16, Math.floor(signature.length / 2) + 16), signature.slice(-32)] : [];
  const raw = [token, ...parts.slice(1).filter((p) => p.length >= 24), ...pieces];
  const out = new Set<string>();
  for (const r of raw) {
    out.add(r);
    out.add(encodeURIComponent(r));
    out.add(Buffer.from(r, 'base64url').toString('base64').replace(/=+$/, ''));
  }
  return [...out].filter((n) => n.length >= 24);
}

/** Scan one text (a file's bytes as latin1, so SQLite pages and WAL frames are searched too). */
export function scanText(file: string, text: string, needles: ReadonlyArray<{ needle: string; token: string }>): Finding[] {
  const findings: Finding[] = [];
  const kind = kindOf(file);
  for (const m of text.matchAll(JWT)) {
    const h = header(m[0].split('.')[0]!);
    if (!h) continue;
    if (kind === 'history' && isAttestation(h)) continue;
    findings.push({ file, what: `a JWT${m[0].split('.').length < 3 ? ', cut short,' : ''} (alg ${String(h.alg)}, typ ${String(h.typ ?? '-')})`, sample: `${m[0].slice(0, 12)}…` });
  }
  for (const { needle, token } of needles) {
    if (text.includes(needle)) findings.push({ file, what: `part of a token a test minted (${needle === token ? 'whole' : `${needle.length} characters of it`})`, sample: `${needle.slice(0, 8)}…` });
  }
  // One finding per token part and file is enough to say where.
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = f.what + f.sample;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Scan every file under `root` (or `root` itself). */
export function scanPath(root: string, tokens: readonly string[]): ScanReport {
  const needles = tokens.flatMap((token) => needlesOf(token).map((needle) => ({ needle, token })));
  const report: ScanReport = { files: 0, bytes: 0, kinds: {}, findings: [] };
  const visit = (p: string) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) visit(join(p, e));
      return;
    }
    if (!st.isFile() || st.size > 256 * 1024 * 1024) return;
    let text: string;
    try {
      text = readFileSync(p).toString('latin1');
    } catch {
      return;
    }
    report.files++;
    report.bytes += st.size;
    const kind = kindOf(p);
    report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
    report.findings.push(...scanText(p, text, needles));
  };
  visit(root);
  return report;
}

/** The tokens the test processes signed so far (the ledger). */
export function mintedTokens(suiteDir: string): string[] {
  try {
    return [...new Set(readFileSync(join(suiteDir, 'minted-tokens.txt'), 'utf8').split('\n').filter(Boolean))];
  } catch {
    return [];
  }
}
