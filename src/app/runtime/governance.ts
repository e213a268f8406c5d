/**
 * The governance of a workspace, shared by the front door, the worker's activities and the
 * CLI's run actions: the revocation list, the Cedar policy engine (reloaded when a policy file
 * changes), the AND-gate authorizer, the run attestor under the workspace's run key, and the
 * audit sink every decision is recorded in. No HTTP, no IdP: the CLI loads this without the
 * front door.
 */
import type { AuditSink } from '../../contracts/audit.js';
import { type Authorizer, createAuthorizer } from '../../../gateway/authz/authorizer.js';
import { createRunAttestor, type RunAttestor } from '../../../gateway/authz/run-attestation.js';
import { createRequestStateCodec, type RequestStateCodec } from '../../../gateway/authz/request-state.js';
import { decodeRunKey, loadOrCreateRunKey } from '../../../gateway/authz/run-key.js';
import type { RevocationStore } from '../../../gateway/identity/revocations.js';
import { createPolicyEngine, type PolicyEngine } from '../../../gateway/policy/engine.js';
import type { LoadedConfig } from '../../config/load.js';
import type { SkillgateConfig } from '../../config/schema.js';
import { resolveSecretValue } from '../../config/secrets.js';
import { openRevocationStore } from './state.js';

/** The parts of authorization shared by the gateway and the worker's activities. */
export interface Governance {
  config: SkillgateConfig;
  revocations: RevocationStore;
  policy: PolicyEngine;
  authorizer: Authorizer;
  /** Signs (service) and verifies (worker) run attestations, under the workspace's run key. */
  attestor: RunAttestor;
  /** Seals MCP `requestState` (input_required relays), under a key derived from the run key. */
  requestState: RequestStateCodec;
  /** Where decisions, actions and refusals are recorded. */
  audit: AuditSink;
  /** Be told after every successful policy reload (what each (user, agent) may see may have changed). */
  onPolicyReload(listener: () => void): () => void;
  /** Stop watching the policies and close the revocation list. */
  close(): Promise<void>;
}

/**
 * Revocations + Cedar (watching the policy files) + the AND-gate, for one workspace, recording
 * into `audit` (required). Each reload of the policies is a `policy.loaded` event. Rejects
 * when the revocation list (`storage`) cannot be opened: nothing is authorized without it.
 */
export async function createGovernance(loaded: LoadedConfig, opts: { audit: AuditSink; log?: (line: string) => void; watch?: boolean }): Promise<Governance> {
  const { config } = loaded;
  const { audit } = opts;
  const revocations = await openRevocationStore(loaded, { ...(opts.log ? { onProblem: opts.log } : {}) });
  const listeners = new Set<() => void>();
  let policy: PolicyEngine;
  try {
    policy = createPolicyEngine({
      config: loaded,
      watch: opts.watch ?? true,
      onReload: (r) => {
        opts.log?.(r.ok ? `policies reloaded (${r.policies} policies, version ${r.version})` : `policy reload failed, keeping the previous set:\n${r.diagnostics.map((d) => `  ${d.file}:${d.line}:${d.col}: ${d.message}`).join('\n')}`);
        audit.record(
          r.ok
            ? { kind: 'policy.loaded', outcome: 'ok', reason: 'reloaded', workspace: config.workspace, decision: { stage: 'policy', policyRevision: r.version }, detail: { policies: r.policies, trigger: 'file-change' } }
            : {
                kind: 'policy.loaded',
                outcome: 'error',
                reason: 'ERR_POLICY_INVALID',
                workspace: config.workspace,
                decision: { stage: 'policy', policyRevision: r.version },
                detail: { trigger: 'file-change', kept: r.version, problems: r.diagnostics.slice(0, 10).map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`) },
              },
        );
        if (r.ok) for (const l of listeners) l();
      },
    });
  } catch (err) {
    await revocations.close();
    throw err;
  }
  const authorizer = createAuthorizer({ config, policy, revocations, audit });
  const key = runKey(loaded);
  const attestor = createRunAttestor(key);
  const requestState = createRequestStateCodec(key);
  return {
    config,
    revocations,
    policy,
    authorizer,
    attestor,
    requestState,
    audit,
    onPolicyReload: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: async () => {
      policy.close();
      await revocations.close();
    },
  };
}

/** The workspace's run key: `runs.attestationKey` (a secret reference, resolved now), else the generated one in the state folder. */
function runKey(loaded: LoadedConfig): Uint8Array {
  const ref = loaded.config.runs.attestationKey;
  if (ref === undefined) return loadOrCreateRunKey(loaded.path(loaded.config.stateDir));
  return decodeRunKey(resolveSecretValue(ref, ['runs', 'attestationKey'], { env: process.env, baseDir: loaded.baseDir }), 'runs.attestationKey');
}

