/**
 * The floors for bench/skill-runs.ts: the plainest Temporal workflows doing the same five tool
 * calls — five sequential activities (each one MCP call), or five local activities — what any
 * Temporal-based interpreter pays on this server, before Skillgate's own work (plan
 * interpretation, CEL, the tool-call pipeline).
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

interface Noop {
  noop(tag: string): Promise<unknown>;
}
const { noop } = proxyActivities<Noop>({ startToCloseTimeout: '30s' });
const local = proxyLocalActivities<Noop>({ startToCloseTimeout: '30s' });

export async function fiveNoops(): Promise<void> {
  for (let i = 0; i < 5; i++) await noop('bench');
}

export async function fiveLocalNoops(): Promise<void> {
  for (let i = 0; i < 5; i++) await local.noop('bench');
}
