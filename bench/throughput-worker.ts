/**
 * One worker process of bench/throughput.ts: a skill worker with the product's defaults on the
 * bench's task queue, its activities calling the no-op MCP server.
 *
 *   node --import tsx bench/throughput-worker.ts <temporal address> <namespace> <task queue> <MCP server URL> <state dir>
 *
 * The run key comes on standard input (its first line, hex) — never argv or env. Prints
 * `{"url": <the Temporal address it polls>}` once it polls; shuts down on SIGTERM or when its
 * standard input ends (the driver is gone).
 */
import { createInterface } from 'node:readline';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createRunAttestor } from '../gateway/authz/run-attestation.js';
import { createBenchWorker, openBenchEngine } from './engine-setup.js';

const [address, namespace, taskQueue, url, dir] = process.argv.slice(2);
if (!address || !namespace || !taskQueue || !url || !dir) throw new Error('usage: throughput-worker.ts <temporal address> <namespace> <task queue> <MCP server URL> <state dir>');

Runtime.install({ logger: new DefaultLogger('WARN') });
const lines = createInterface({ input: process.stdin });
const key = await new Promise<string>((res, rej) => {
  lines.once('line', res);
  lines.once('close', () => rej(new Error('no run key on standard input')));
});
const attestor = createRunAttestor(Buffer.from(key, 'hex'));
const engine = await openBenchEngine({ url, dir });
const connection = await NativeConnection.connect({ address });
const worker = await createBenchWorker({ connection, namespace, taskQueue, engine, attestor });
const running = worker.run();
const stop = () => {
  if (worker.getState() === 'RUNNING') worker.shutdown();
};
process.once('SIGTERM', stop);
lines.once('close', stop);
process.stdout.write(`${JSON.stringify({ url: address })}\n`);
await running;
await engine.pool.close();
await connection.close();
process.exit(0);
