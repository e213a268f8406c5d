/**
 * What the tracing and data-loss tests share: the demo policies plus one file that lets the
 * credit assistant use the probe and `everything` servers and run the `probe-*` fixture
 * skills (the CEO's own policy already allows any tool and skill).
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './workspace.js';

export const OBSERVABILITY_SKILLS = join(ROOT, 'test/fixtures/observability-skills');

/** A policy folder (demo policies + the test's permits); `cleanup()` removes it. */
export function observabilityPolicies(): { glob: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'skillgate-obs-policies-'));
  for (const f of ['agents.cedar', 'users.cedar', 'arguments.cedarschema']) copyFileSync(join(ROOT, 'policies', f), join(dir, f));
  writeFileSync(
    join(dir, 'observability-test.cedar'),
    `@id("agent.credit-assistant.test-servers")
permit (principal == Skillgate::Agent::"credit-assistant", action == Skillgate::Action::"call_tool", resource)
when { resource in Skillgate::Server::"probe" || resource in Skillgate::Server::"everything" };

@id("agent.credit-assistant.probe-skills")
permit (principal == Skillgate::Agent::"credit-assistant", action in [Skillgate::Action::"run_skill", Skillgate::Action::"read_run"], resource is Skillgate::Skill)
when { resource.name like "probe-*" };
`,
  );
  return { glob: join(dir, '*.cedar'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
