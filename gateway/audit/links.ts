/**
 * Links from the audit trail to the Temporal Web UI: a run's page is
 * `<ui>/namespaces/<namespace>/workflows/<workflowId>/<runId>` (without the run id, the UI
 * opens the latest run of that workflow id). Built when shown, not stored: the UI may move.
 */
import type { SkillgateConfig } from '../../src/config/schema.js';

/** The Temporal UI's base URL: `temporal.uiUrl`, else the embedded dev server's, else none (an external cluster without one configured). */
export function temporalUiBase(config: SkillgateConfig, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  if (config.temporal.uiUrl) return config.temporal.uiUrl.replace(/\/+$/, '');
  if (env.TEMPORAL_ADDRESS || config.temporal.address) return undefined;
  return `http://127.0.0.1:${config.temporal.dev.uiPort}`;
}

/** The run's page in the Temporal UI. */
export function runLink(base: string, namespace: string, workflowId: string, runId?: string): string {
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${encodeURIComponent(runId)}` : ''}`;
}
