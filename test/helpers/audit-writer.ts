/**
 * A process that records audit events as fast as it can, for the crash test: after each
 * call-like pair of events it lets the pending microtasks run — as the gateway's answer to a
 * call is written after the handler's microtasks — and, with `audit.write: batched`, the
 * event loop's check phase too (where batched writes happen, right after the answer), then
 * prints the pair's number: by then the events must be the store's. The test kills it with
 * SIGKILL at a random point and checks that every printed pair is stored.
 *
 *   node --import tsx test/helpers/audit-writer.ts <config.yaml> <tag>
 */
import { loadConfig } from '../../src/config/load.js';
import { openWorkspaceAudit } from '../../src/app/runtime/audit.js';

const loaded = loadConfig(process.argv[2]!);
const tag = process.argv[3] ?? 'pair';
const audit = await openWorkspaceAudit(loaded);
for (let i = 1; ; i++) {
  audit.log.record({ kind: 'decision', outcome: 'allow', reason: 'ok', workspace: 'crash', user: 'ceo', agent: 'hr-assistant', ids: { requestId: `${tag}-${i}` } });
  audit.log.record({ kind: 'tool.call', outcome: 'ok', reason: 'ok', workspace: 'crash', user: 'ceo', agent: 'hr-assistant', ids: { requestId: `${tag}-${i}` } });
  // The answer would go out here: after the microtasks queued by the records, in the same turn.
  await Promise.resolve();
  // Batched: written in this turn's check phase, after the answer.
  if (loaded.config.audit.write === 'batched') await new Promise<void>((r) => setImmediate(r));
  process.stdout.write(`${i}\n`);
}
