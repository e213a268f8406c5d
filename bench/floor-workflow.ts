/**
 * The floor for bench/skill-overhead.ts: the plainest Temporal workflow doing the same five
 * tool calls (five sequential activities, each one MCP call) — what any Temporal-based
 * interpreter pays on this server, before Skillgate's own work (plan interpretation, CEL,
 * the tool-call pipeline).
 */
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(tag: string): Promise<unknown> }>({ startToCloseTimeout: '30s' });

export async function fiveNoops(): Promise<void> {
  for (let i = 0; i < 5; i++) await noop('bench');
}
