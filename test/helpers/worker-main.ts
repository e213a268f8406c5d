/**
 * A Skillgate worker as its own process, for tests that kill it (SIGKILL) mid-run:
 *
 *   TEMPORAL_ADDRESS=127.0.0.1:7233 node --import tsx test/helpers/worker-main.ts <config> <taskQueue>
 *
 * Prints `ready` on stdout once the worker polls. SIGTERM shuts it down cleanly.
 */
import { NativeConnection } from '@temporalio/worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { createRunAttestor } from '../../gateway/authz/run-attestation.js';
import { loadOrCreateRunKey } from '../../gateway/authz/run-key.js';
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import { openCredentials } from '../../src/app/runtime/credentials.js';
import { loadConfig } from '../../src/config/load.js';
import { createSkillWorker } from '../../src/temporal/worker.js';
import { ALLOW_ALL, approveEverything, NO_DATA_LOSS } from './allow-all.js';
import { memoryAuditSink } from '../../gateway/audit/memory.js';

const [configFile, taskQueue] = process.argv.slice(2);
const address = process.env.TEMPORAL_ADDRESS;
if (!configFile || !taskQueue || !address) {
  process.stderr.write('usage: TEMPORAL_ADDRESS=host:port worker-main.ts <config> <taskQueue>\n');
  process.exit(2);
}

Runtime.install({ logger: new DefaultLogger('ERROR') });
const loaded = loadConfig(configFile);
const pool = createUpstreamPool(loaded, { log: () => {} });
// Durability of runs is what this worker is for; what it records is not looked at (said here: a sink is required).
const audit = memoryAuditSink();
const credentials = await openCredentials(loaded, { audit });
const connection = await NativeConnection.connect({ address });
const worker = await createSkillWorker({
  connection,
  taskQueue,
  // The harness's run key (same state folder), and "allow all": the crash test is about durability.
  activities: createActivities({ pool, authorizer: ALLOW_ALL, attestor: createRunAttestor(loadOrCreateRunKey(loaded.path(loaded.config.stateDir))), catalog: approveEverything(pool), dataLoss: NO_DATA_LOSS, audit, credentials: credentials.service }),
  audit,
  // A killed worker's sticky queue holds the run's next workflow task until this timeout (SDK
  // default 10 s) before the server hands it to another worker; short here to keep tests quick.
  tuning: { stickyQueueScheduleToStartTimeout: '2s' },
});
const running = worker.run();
process.on('SIGTERM', () => worker.shutdown());
process.stdout.write('ready\n');
await running;
await pool.close();
await connection.close();
