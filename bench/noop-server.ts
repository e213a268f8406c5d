/**
 * The no-op MCP server (bench/engine-setup.ts) as a process of its own, for bench/throughput.ts:
 * prints `{"url": …}` once it listens; stops on SIGTERM or when its standard input ends.
 */
import { serveNoop } from './engine-setup.js';

const noop = await serveNoop();
const stop = () => void noop.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.stdin.once('end', stop).resume();
process.stdout.write(`${JSON.stringify({ url: noop.url })}\n`);
