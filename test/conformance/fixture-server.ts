/**
 * The conformance fixture server: the tools, resources and prompts the official MCP
 * conformance suites' server scenarios call, on the MCP TypeScript SDK v2 server, over
 * Streamable HTTP on one endpoint for both eras (test/conformance/fixture/).
 *
 *   node --import tsx test/conformance/fixture-server.ts [--port N]
 *
 * prints `fixture listening <url>` on stdout once it accepts connections, and stops on
 * SIGINT/SIGTERM. Test code, not product: the harness (test/conformance/run.ts) puts it behind a
 * Skillgate gateway.
 */
import { startFixtureHttp } from './fixture/http.js';

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`fixture-server: --port must be an integer 0-65535, got ${process.argv[portArg + 1]}\n`);
  process.exit(2);
}

const fixture = await startFixtureHttp({ port });
process.stdout.write(`fixture listening ${fixture.url}\n`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    void fixture.close().then(() => process.exit(0));
  });
}
