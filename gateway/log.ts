/**
 * Structured logging (pino, JSON lines). Every refusal and denial is one `warn` line whose
 * fields say what was refused and why (`refusal()`); nothing logged ever holds a token, a
 * secret, or a request body (tokens appear only as `sha256:<16 hex>` in `detail`).
 */
import pino from 'pino';

export type LogFields = Record<string, unknown>;

/** The product's logger: message first, fields second; `child` binds fields to every line. */
export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

/** What a refusal line says. `code` is the refusal's stable code (ERR_…). */
export interface Refusal extends LogFields {
  code: string;
  /** HTTP status, or the JSON-RPC error code, the client got. */
  status?: number;
  gateway?: string;
  agent?: string;
  user?: string;
  tool?: string;
  skill?: string;
  runId?: string;
  requestId?: string;
  /** Cedar denials: `agent`, `user` or `agent+user`, and the deciding policy ids. */
  side?: string;
  policies?: string[];
  /** Internal detail (never shown to the client, never a token). */
  detail?: string;
}

/** One line per refusal, the same shape wherever it happens. */
export function refusal(log: Logger, r: Refusal): void {
  log.warn(`refused ${r.code}`, { event: 'refusal', ...r, ...(typeof r.path === 'string' ? { path: withoutQueryValues(r.path) } : {}) });
}

/**
 * A request path as a log may show it: the query's parameter names, never their values — a
 * token sent as `?access_token=…` (refused, RFC 6750 §2.3) must not reach the log through the
 * path either.
 */
export function withoutQueryValues(path: string): string {
  const q = path.indexOf('?');
  if (q === -1) return path;
  const names = path
    .slice(q + 1)
    .split('&')
    .map((kv) => kv.split('=')[0]!)
    .filter(Boolean)
    .map((n) => `${n.slice(0, 40)}=…`);
  return `${path.slice(0, q)}${names.length ? `?${names.join('&')}` : ''}`;
}

function wrap(p: pino.Logger): Logger {
  return {
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    child: (bindings) => wrap(p.child(bindings)),
  };
}

export interface LoggerOptions {
  /** A file (appended; its folder is created), or `stderr` / `stdout`. */
  destination: string;
  /** pino level (default `info`). */
  level?: string;
}

/**
 * A pino logger writing JSON lines. Each line is written synchronously (it is in the file, or
 * the pipe, when the call returns): a refusal is a security record, and a crash right after
 * it must not lose it. A line costs one write(2), a few microseconds, and only refusals,
 * denials and run events are logged per request. `flush()` is kept for callers that end the
 * process.
 *
 * @example const { logger } = createLogger({ destination: '.skillgate/logs/skillgate.log' });
 */
export function createLogger(opts: LoggerOptions): { logger: Logger; flush(): void } {
  const dest =
    opts.destination === 'stderr' ? 2 : opts.destination === 'stdout' ? 1 : opts.destination;
  const stream = pino.destination({ dest, mkdir: true, sync: true });
  const p = pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return {
    logger: wrap(p),
    flush: () => {
      try {
        stream.flushSync();
      } catch {
        // Nothing buffered (sync writes), or the stream never opened: nothing to lose.
      }
    },
  };
}

/** Drops everything (tools and tests that say so). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, child: () => silentLogger };

/** Keeps lines in memory (tests read them back). */
export function memoryLogger(lines: Array<{ level: string; msg: string } & LogFields> = []): Logger & { lines: typeof lines } {
  const make = (bindings: LogFields): Logger => ({
    info: (msg, fields) => void lines.push({ level: 'info', msg, ...bindings, ...fields }),
    warn: (msg, fields) => void lines.push({ level: 'warn', msg, ...bindings, ...fields }),
    error: (msg, fields) => void lines.push({ level: 'error', msg, ...bindings, ...fields }),
    child: (b) => make({ ...bindings, ...b }),
  });
  return Object.assign(make({}), { lines });
}
