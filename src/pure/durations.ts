/**
 * Durations as written in skill plans and skillgate.yaml — `500ms`, `30s`, `5m`, `24h`, `7d`,
 * `1.5s` — and as messages print them. One grammar and one format for the whole product; pure
 * (the workflow formats its timeout messages with it).
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The grammar: a number (decimals allowed) and a unit. */
export const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

/**
 * For messages: 86400000 → "24h", 90000 → "1m30s", 1500 → "1.5s", 250 → "250ms". Whole
 * seconds are split into units; a fraction of a second is kept exact rather than rounded.
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 1000 !== 0) return `${ms / 1000}s`;
  let rest = ms / 1000;
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  // "24h" reads better than "1d" in an approval message.
  if (parts.length === 1 && parts[0] === '1d') return '24h';
  return parts.join('');
}
