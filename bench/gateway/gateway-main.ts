/** Runs the real gateway for benchmarks: config file path in argv[2]; prints {url} when listening. */
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import { loadConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/app/runtime/front-door.js';
import { createGovernance } from '../../src/app/runtime/governance.js';
import { openCredentials } from '../../src/app/runtime/credentials.js';

const loaded = loadConfig(process.argv[2]!);
const pool = createUpstreamPool(loaded, { log: () => {} });
const governance = createGovernance(loaded, { watch: false });
const credentials = await openCredentials(loaded);
const gw = await startGateway({ loaded, pool, governance, credentials, port: loaded.config.publicUrl ? Number(new URL(loaded.config.publicUrl).port) : 0 });
process.stdout.write(`${JSON.stringify({ url: gw.url })}\n`);
process.on('SIGTERM', () => void gw.close().then(() => pool.close()).then(() => process.exit(0)));
process.on('SIGINT', () => process.exit(0));
