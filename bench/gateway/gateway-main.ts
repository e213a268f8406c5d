/**
 * Runs the real gateway for benchmarks: config file path in argv[2]; prints {url} when
 * listening. SKILLGATE_BENCH_AUDIT says what happens to audit events: `off` (the default, as
 * for bench:gateway, which measures the front door alone) drops them; `on` records them in the
 * workspace's own audit trail (SQLite) before each answer (`audit.write: before-answer`);
 * `immediate` right after it (`batched`, the product's default). bench/audit.ts runs the three
 * side by side.
 */
import { silentLogger } from '../../gateway/log.js';
import type { AuditSink } from '../../src/contracts/audit.js';
import { createUpstreamPool } from '../../gateway/upstream/pool.js';
import { loadConfig } from '../../src/config/load.js';
import { openWorkspaceAudit } from '../../src/app/runtime/audit.js';
import { startGateway } from '../../src/app/runtime/front-door.js';
import { createGovernance } from '../../src/app/runtime/governance.js';
import { approvedCatalog } from '../../test/helpers/catalog.js';
import { startTelemetry } from '../../src/app/runtime/telemetry.js';
import { openCredentials } from '../../src/app/runtime/credentials.js';
const loaded = loadConfig(process.argv[2]!);
const pool = createUpstreamPool(loaded, { log: () => {} });
const mode = process.env.SKILLGATE_BENCH_AUDIT ?? 'off';
const workspaceAudit = mode === 'off' ? undefined : await openWorkspaceAudit(loaded, { flushOn: mode === 'immediate' ? 'immediate' : 'microtask' });
const audit: AuditSink = workspaceAudit?.log ?? { record() {} };
const governance = await createGovernance(loaded, { watch: false, audit });
const credentials = await openCredentials(loaded, { audit });
// The real pinned catalog, every tool approved: its check is part of what is measured.
const catalog = await approvedCatalog(loaded, pool, silentLogger, audit);
// Traced when OTEL_EXPORTER_OTLP_ENDPOINT is set (bench/gateway-observability.ts).
const tracing = await startTelemetry(loaded, process.env);
const gw = await startGateway({
  loaded,
  pool,
  governance,
  catalog,
  credentials,
  port: loaded.config.publicUrl ? Number(new URL(loaded.config.publicUrl).port) : 0,
  ...(tracing ? { telemetry: tracing.telemetry } : {}),
});
process.stdout.write(`${JSON.stringify({ url: gw.url })}\n`);
const stop = async () => {
  await gw.close();
  await pool.close();
  await workspaceAudit?.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => process.exit(0));
