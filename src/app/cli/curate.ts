/**
 * `skillgate curate [server] [--json | --sarif] [--html <file|dir/>] [--approve [tool…]]`:
 * list a server's tools, resources and prompts, score every tool and the server (spec
 * adherence, security, LLM usability: gateway/curation/), and — with `--approve` — pin the
 * approved definitions in tools.lock.json, which the running gateway enforces.
 *
 * A server that is not configured yet is given with `--command "<executable> <args…>"` (stdio)
 * or `--url <endpoint>`; a command is shown and started only after consent on a terminal, or
 * with `--yes`, and it runs with the minimal environment every stdio server gets (PATH, HOME,
 * LOGNAME, SHELL, TERM, USER — nothing else of this process).
 *
 * Exit codes: 0 ok; 1 an error-level finding (or an approval refused); 2 usage or environment.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { LoadedConfig } from '../../config/load.js';
import { configSchema, type ServerConfig } from '../../config/schema.js';
import { didYouMean } from '../../shared/diagnostics.js';
import { own } from '../../shared/own.js';
import { configFrom } from './context.js';
import { CliError } from './errors.js';

interface CurateOptions {
  json?: boolean;
  sarif?: boolean;
  html?: string;
  approve?: boolean | string[];
  acceptRisk?: boolean;
  by?: string;
  command?: string;
  url?: string;
  yes?: boolean;
  probe?: boolean;
  verbose?: boolean;
}

/**
 * Split a command line into argv: whitespace separates, single and double quotes group,
 * backslash escapes the next character. No variables, globs or other shell features: what is
 * shown in the consent prompt is exactly what runs.
 */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | undefined;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) throw new CliError(`--command: unterminated ${quote} quote`, 2);
  if (has || cur) out.push(cur);
  return out;
}

/** Ask on the terminal; anything but y/yes is no. */
async function consent(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** A config holding only the new server, for the pool (same spawning, same minimal environment). */
function adHocConfig(loaded: LoadedConfig, name: string, server: ServerConfig): LoadedConfig {
  const config = configSchema.parse({ workspace: loaded.config.workspace, servers: { [name]: server } });
  return { ...loaded, config: { ...loaded.config, servers: config.servers } };
}

export function register(program: Command): void {
  program
    .command('curate')
    .description('score a server’s tools (spec adherence, security, LLM usability) and pin approved ones in tools.lock.json')
    .argument('[server]', 'a configured server (default: every configured server); with --command/--url, the name to report it under')
    .option('--json', 'print the report as JSON')
    .option('--sarif', 'print the findings as SARIF 2.1.0')
    .option('--html <file>', 'write the HTML report to this file (several servers: a folder, one page each)')
    .option('--approve [tools...]', 'pin these tools (default: every tool of the server) in the lock file')
    .option('--accept-risk', 'approve tools with error-level findings too')
    .option('--by <who>', 'who approves (recorded in the lock and the audit trail; default: the OS user)')
    .option('--command <line>', 'a server that is not configured: the command that starts it over stdio (asks before running it)')
    .option('--url <url>', 'a server that is not configured: its Streamable HTTP endpoint')
    .option('-y, --yes', 'run the --command without asking')
    .option('--no-probe', 'do not call read-only tools with their documented examples')
    .option('-v, --verbose', 'show upstream server logs')
    .addHelpText(
      'after',
      '\nExamples:\n  skillgate curate hr --html hr.html\n  skillgate curate hr --approve            # pin every tool of hr\n  skillgate curate everything --approve echo get-sum\n  skillgate curate memory --command "npx -y @modelcontextprotocol/server-memory" --sarif > memory.sarif',
    )
    .action(async (serverArg: string | undefined, opts: CurateOptions, cmd: Command) => {
      const loaded = configFrom(cmd);
      if (opts.json && opts.sarif) throw new CliError('--json and --sarif print different documents: choose one', 2);
      if (opts.command !== undefined && opts.url !== undefined) throw new CliError('--command and --url name two servers: choose one', 2);
      const adHoc = opts.command !== undefined || opts.url !== undefined;
      const configured = Object.keys(loaded.config.servers);

      let target = loaded;
      let names: string[];
      if (adHoc) {
        if (opts.approve !== undefined) {
          throw new CliError('only configured servers can be approved: add it to `servers:` in skillgate.yaml, then run skillgate curate <server> --approve', 2);
        }
        const name = serverArg ?? 'new-server';
        if (own(loaded.config.servers, name)) throw new CliError(`"${name}" is a configured server: leave out --command/--url to curate it as configured, or name the new one differently`, 2);
        let server: ServerConfig;
        if (opts.command !== undefined) {
          const argv = splitCommand(opts.command);
          if (!argv.length) throw new CliError('--command is empty', 2);
          const [command, ...args] = argv as [string, ...string[]];
          server = { command, args, era: 'auto' };
          const shown = `skillgate curate will start this program to list its tools:\n  command: ${JSON.stringify(command)}\n  args:    ${JSON.stringify(args)}\n  cwd:     ${loaded.baseDir}\n  environment: PATH, HOME, LOGNAME, SHELL, TERM, USER only\n`;
          if (!opts.yes) {
            if (!process.stdin.isTTY) throw new CliError(`${shown}refused: no terminal to ask for consent; pass --yes to run it`, 2);
            process.stderr.write(shown);
            if (!(await consent('Run it? [y/N] '))) throw new CliError('not run', 1);
          } else if (opts.verbose) {
            process.stderr.write(shown);
          }
        } else {
          server = { url: opts.url!, era: 'auto' };
        }
        try {
          target = adHocConfig(loaded, name, server);
        } catch (err) {
          throw new CliError(`invalid server: ${(err as Error).message}`, 2);
        }
        names = [name];
      } else if (serverArg !== undefined) {
        if (!configured.includes(serverArg)) {
          const guess = didYouMean(serverArg, configured);
          throw new CliError(`unknown server "${serverArg}"${guess ? ` (did you mean "${guess}"?)` : ''}\n  servers in ${loaded.file}: ${configured.join(', ') || '(none)'}\n  a new one: --command "<program> <args>" or --url <endpoint>`, 1);
        }
        names = [serverArg];
      } else {
        if (opts.approve !== undefined) throw new CliError('--approve needs the server to approve: skillgate curate <server> --approve [tool…]', 2);
        names = configured;
      }
      if (Array.isArray(opts.approve) && names.length !== 1) throw new CliError('tools to approve are named for one server', 2);

      const [{ curateServers }, { withPool, cliLogger }, { openWorkspaceAudit }] = await Promise.all([import('./curate-run.js'), import('./connections.js'), import('../runtime/audit.js')]);
      const log = cliLogger(loaded);
      // Approvals and the changes found go to the workspace's audit trail, like the gateway's.
      const audit = await openWorkspaceAudit(loaded, { busyTimeoutMs: 5_000, onProblem: (msg, fields) => log.logger.error(msg, { component: 'cli', ...fields }) });
      try {
        const outcome = await withPool(target, (pool) => curateServers(loaded, target.config.servers, pool, names, { ...opts, log: log.logger, audit: audit.log }), opts.verbose);
        process.stdout.write(outcome.stdout);
        for (const line of outcome.messages) process.stderr.write(`${line}\n`);
        if (opts.html !== undefined) writeHtml(opts.html, outcome.html);
        process.exitCode = outcome.exitCode;
      } finally {
        await audit.close();
        log.flush();
      }
    });
}

/** One page per server: to the file (one server), or into the folder (several, or a path ending in /). */
function writeHtml(target: string, pages: ReadonlyArray<{ server: string; html: string }>): void {
  const path = resolve(target);
  const isDir = target.endsWith('/') || (() => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  })();
  if (!isDir && pages.length > 1) throw new CliError(`--html ${target}: several servers need a folder (end it with /)`, 2);
  for (const p of pages) {
    const file = isDir ? join(path, `${p.server}.html`) : path;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, p.html);
    process.stderr.write(`wrote ${file}\n`);
  }
}
