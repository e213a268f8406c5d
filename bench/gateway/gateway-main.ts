/** Runs the real gateway for benchmarks: config file path in argv[2]; prints {url} when listening. */
import { silentLogger } from '../../gateway/log.js';
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import { loadConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/app/runtime/front-door.js';
import { createGovernance } from '../../src/app/runtime/governance.js';
import { approvedCatalog } from '../../test/helpers/catalog.js';
import { startTelemetry } from '../../src/app/runtime/telemetry.js';

const loaded = loadConfig(process.argv[2]!);
const pool = createUpstreamPool(loaded, { log: () => {} });
const governance = createGovernance(loaded, { watch: false });
// The real pinned catalog, every tool approved: its check is part of what is measured.
const catalog = await approvedCatalog(loaded, pool, silentLogger);
// Traced when OTEL_EXPORTER_OTLP_ENDPOINT is set (bench/gateway-observability.ts).
const tracing = await startTelemetry(loaded, process.env);
const gw = await startGateway({
  loaded,
  pool,
  governance,
  catalog,
  port: loaded.config.publicUrl ? Number(new URL(loaded.config.publicUrl).port) : 0,
  ...(tracing ? { telemetry: tracing.telemetry } : {}),
});
process.stdout.write(`${JSON.stringify({ url: gw.url })}\n`);
process.on('SIGTERM', () => void gw.close().then(() => pool.close()).then(() => process.exit(0)));
process.on('SIGINT', () => process.exit(0));
