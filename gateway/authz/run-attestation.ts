/**
 * Run attestations: short signed statements, made by the run-actions service after it has
 * authorized an action, that the durable run checks before it acts on that action. They let
 * the run enforce Skillgate's authorization even when a request reaches it by another path
 * (the Temporal CLI or any client of the Temporal frontend):
 *
 *   run       "this workflow id was started by the service for (user, agent) on this gateway,
 *              with this plan and these inputs" — checked once, when the run starts;
 *   approval  "this approver (roles, agent) was authorized to decide this step of this run
 *              this way" — checked before a decision counts.
 *
 * Each is a JWT (RFC 7519) signed with HS256 under the workspace's run key (run-key.ts), which
 * never leaves Skillgate's processes: what a history holds is the signed statement, bound to
 * one workflow id (and step), never the key. jose does the signing and verifying.
 */
import { createHash } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import type { Principal } from '../../src/contracts/principal.js';

/** Why an attestation was refused (one closed family). */
export type AttestationErrorCode =
  /** The run or decision carries no attestation: it did not come through the run-actions service. */
  | 'ERR_ATTESTATION_MISSING'
  /** Not a JWT, a bad signature (another key), or the wrong kind of statement. */
  | 'ERR_ATTESTATION_INVALID'
  /** An approval attestation older than its lifetime. */
  | 'ERR_ATTESTATION_EXPIRED'
  /** Signed, but for another run, step, decision, principal, plan or inputs. */
  | 'ERR_ATTESTATION_MISMATCH';

export class AttestationError extends Error {
  constructor(
    readonly code: AttestationErrorCode,
    /** Safe for logs and histories: names fields, never the key. */
    message: string,
  ) {
    super(message);
    this.name = 'AttestationError';
  }
}

/** What a run attestation binds. */
export interface RunClaims {
  workflowId: string;
  workspace: string;
  gateway: string;
  principal: Principal;
  planHash: string;
  inputs: unknown;
}

/** What an approval attestation binds; `approver` and `agent` are what the service authenticated. */
export interface ApprovalClaims {
  workflowId: string;
  stepId: string;
  decision: 'approve' | 'reject';
  approver: Principal['user'];
  agent: string;
  gateway: string;
}

export interface RunAttestor {
  signRun(claims: RunClaims): Promise<string>;
  /** Throws AttestationError unless `token` attests exactly `expected`. */
  verifyRun(token: string | undefined, expected: RunClaims): Promise<void>;
  signApproval(claims: ApprovalClaims): Promise<string>;
  /** The approver the service authenticated; throws AttestationError unless it is for this run, step and decision. */
  verifyApproval(
    token: string | undefined,
    expected: Pick<ApprovalClaims, 'workflowId' | 'stepId' | 'decision'>,
  ): Promise<Pick<ApprovalClaims, 'approver' | 'agent' | 'gateway'> & { id: string }>;
}

const ISSUER = 'skillgate/run-actions';
const RUN_AUDIENCE = 'skillgate/run';
const APPROVAL_AUDIENCE = 'skillgate/approval';
/** An approval is sent to the run right after it is signed; a worker that is down for longer makes the approver try again. */
const APPROVAL_LIFETIME = '15m';

/** `sha256:<hex>` of canonical JSON: binds a value without copying it into the statement. */
function digest(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

/**
 * An attestor over a 32-byte (or longer) secret key.
 *
 * @example
 * const attestor = createRunAttestor(loadRunKey(stateDir));
 * const attestation = await attestor.signRun({ workflowId, workspace, gateway, principal, planHash, inputs });
 */
export function createRunAttestor(key: Uint8Array): RunAttestor {
  if (key.byteLength < 32) throw new Error('the run key must be at least 32 bytes');
  const verify = async (token: string | undefined, audience: string, what: string) => {
    if (typeof token !== 'string' || token === '') {
      throw new AttestationError('ERR_ATTESTATION_MISSING', `the ${what} carries no attestation: it did not come through Skillgate's run-actions service`);
    }
    try {
      return (await jwtVerify(token, key, { issuer: ISSUER, audience, algorithms: ['HS256'] })).payload;
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new AttestationError('ERR_ATTESTATION_EXPIRED', `the ${what}'s attestation has expired`);
      throw new AttestationError('ERR_ATTESTATION_INVALID', `the ${what}'s attestation is not valid (${err instanceof errors.JOSEError ? err.code : 'undecodable'})`);
    }
  };
  const mismatch = (what: string, field: string) => new AttestationError('ERR_ATTESTATION_MISMATCH', `the ${what}'s attestation is for another ${field}`);

  return {
    async signRun(c) {
      return new SignJWT({
        wid: c.workflowId,
        ws: c.workspace,
        gw: c.gateway,
        act: { sub: c.principal.agent.id },
        pd: digest(c.principal),
        ph: c.planHash,
        id: digest(c.inputs ?? {}),
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'skillgate-run+jwt' })
        .setIssuer(ISSUER)
        .setAudience(RUN_AUDIENCE)
        .setSubject(c.principal.user.id)
        .setIssuedAt()
        .sign(key);
    },

    async verifyRun(token, e) {
      const p = await verify(token, RUN_AUDIENCE, 'run');
      if (p.wid !== e.workflowId) throw mismatch('run', 'workflow id');
      if (p.ws !== e.workspace) throw mismatch('run', 'workspace');
      if (p.gw !== e.gateway) throw mismatch('run', 'gateway');
      if (p.sub !== e.principal.user.id || p.pd !== digest(e.principal)) throw mismatch('run', 'user or agent');
      if (p.ph !== e.planHash) throw mismatch('run', 'plan');
      if (p.id !== digest(e.inputs ?? {})) throw mismatch('run', 'set of inputs');
    },

    async signApproval(c) {
      return new SignJWT({
        wid: c.workflowId,
        step: c.stepId,
        dec: c.decision,
        roles: c.approver.roles,
        groups: c.approver.groups,
        act: { sub: c.agent },
        gw: c.gateway,
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'skillgate-approval+jwt' })
        .setIssuer(ISSUER)
        .setAudience(APPROVAL_AUDIENCE)
        .setSubject(c.approver.id)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime(APPROVAL_LIFETIME)
        .sign(key);
    },

    async verifyApproval(token, e) {
      const p = await verify(token, APPROVAL_AUDIENCE, 'approval');
      if (p.wid !== e.workflowId) throw mismatch('approval', 'run');
      if (p.step !== e.stepId) throw mismatch('approval', 'step');
      if (p.dec !== e.decision) throw mismatch('approval', 'decision');
      const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
      const act = p.act as { sub?: unknown } | undefined;
      if (typeof p.sub !== 'string' || typeof act?.sub !== 'string' || typeof p.gw !== 'string' || typeof p.jti !== 'string') {
        throw new AttestationError('ERR_ATTESTATION_INVALID', "the approval's attestation lacks the approver, agent or gateway");
      }
      return { approver: { id: p.sub, roles: strings(p.roles), groups: strings(p.groups) }, agent: act.sub, gateway: p.gw, id: p.jti };
    },
  };
}
