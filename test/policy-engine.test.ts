/**
 * The AND-gate over the demo policies (policies/*.cedar): both sides evaluated separately,
 * argument rules, the ids of the deciding policies, the messages, and that the engine's
 * shortcuts (slices, pruned requests, decision cache) decide exactly as plain Cedar does.
 */
import { preparsePolicySet, statefulIsAuthorized, type EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/contracts/principal.js';
import { explainDenial } from '../gateway/policy/decision.js';
import { createPolicyEngine } from '../gateway/policy/engine.js';
import { ACTION_OF, type AuthorizationRequest, type PolicyAction, type PolicyResource, serverItem, type Side } from '../gateway/policy/model.js';
import { toCedarArguments } from '../gateway/policy/arguments.js';
import { parseConfig } from '../src/config/load.js';

const root = resolve(import.meta.dirname, '..');

/** The demo world as skillgate.yaml describes it (agents, servers, gateways, users). */
const config = parseConfig(
  `
workspace: acme-bank
servers:
  core-banking: { command: node, args: [core-banking.js] }
  credit-bureau: { command: node, args: [credit-bureau.js] }
  hr: { command: node, args: [hr.js] }
  everything: { command: node, args: [everything.js] }
  filesystem: { command: node, args: [filesystem.js] }
users:
  ceo: { roles: [executive] }
  intern: { roles: [intern] }
  credit-officer: { roles: [credit-officer] }
  loan-clerk: { roles: [loan-clerk] }
  hr-admin: { roles: [hr-admin] }
agents:
  hr-assistant: { clientId: hr-assistant }
  credit-assistant: { clientId: credit-assistant }
  coding-agent: { clientId: coding-agent }
gateways:
  hr-desk: { agents: [hr-assistant], tools: ["hr.*"], skills: [] }
  credit-desk: { agents: [credit-assistant], tools: ["core-banking.*", "credit-bureau.*"], skills: [credit-issuance] }
  dev-tools: { agents: [coding-agent], tools: ["everything.*", "filesystem.*"], skills: [] }
`,
  resolve(root, 'skillgate.yaml'),
);

const engine = createPolicyEngine({ config, files: ['policies/*.cedar'] });
afterAll(() => engine.close());

function who(user: string, agent: string): Principal {
  const u = config.config.users[user];
  if (!u) throw new Error(`no demo user ${user}`);
  return { user: { id: user, roles: u.roles, groups: u.groups }, agent: { id: agent } };
}

const tool = (server: string, name: string): PolicyResource => ({ type: 'tool', server, tool: name });
const skill = (name: string): PolicyResource => ({ type: 'skill', name });

function ask(
  user: string,
  agent: string,
  action: PolicyAction,
  resource: PolicyResource,
  args: Record<string, unknown> = {},
  extra: Partial<AuthorizationRequest> = {},
) {
  return engine.authorize({ principal: who(user, agent), action, resource, gateway: 'test', arguments: args, ...extra });
}

describe('the AND-gate truth table', () => {
  it('broad agent + narrow user: denied on the user side only', () => {
    // The credit assistant may issue credits; the intern may not, whatever the agent.
    const d = ask('intern', 'credit-assistant', 'call_tool', tool('core-banking', 'issue_credit'), { customerId: 'C-1001', amount: 100 });
    expect(d.allowed).toBe(false);
    expect(d.agent).toMatchObject({ allowed: true, basis: 'permit', policies: ['agent.credit-assistant.credit-tools'] });
    expect(d.user).toMatchObject({ allowed: false, basis: 'forbid', policies: ['user.intern.no-credit-issuance'] });
    const denial = explainDenial(d)!;
    expect(denial.code).toBe('ERR_USER_NOT_PERMITTED');
    expect(denial.message).toBe('not permitted for this user');
    expect(denial.detail.sides).toEqual(['user']);
    expect(denial.detail.summary).toBe('user: forbidden by user.intern.no-credit-issuance');
  });

  it('narrow agent + powerful user: denied on the agent side only', () => {
    // The CEO may call any tool; the coding agent may never touch core banking.
    const d = ask('ceo', 'coding-agent', 'call_tool', tool('core-banking', 'get_customer'), { customerId: 'C-1001' });
    expect(d.allowed).toBe(false);
    expect(d.agent).toMatchObject({ allowed: false, basis: 'forbid', policies: ['agent.coding-agent.no-business-systems'] });
    expect(d.user).toMatchObject({ allowed: true, basis: 'permit', policies: ['user.executive.broad'] });
    const denial = explainDenial(d)!;
    expect(denial.code).toBe('ERR_AGENT_NOT_PERMITTED');
    expect(denial.message).toBe('not permitted for this agent');
    expect(denial.detail.summary).toBe('agent: forbidden by agent.coding-agent.no-business-systems');
  });

  it('both allow: allowed, each side naming its permit', () => {
    const d = ask('ceo', 'hr-assistant', 'call_tool', tool('hr', 'get_compensation'), { employeeId: 'intern' });
    expect(d.allowed).toBe(true);
    expect(d.agent).toEqual({ allowed: true, basis: 'permit', policies: ['agent.hr-assistant.hr-tools'], errors: [] });
    expect(d.user).toEqual({ allowed: true, basis: 'permit', policies: ['user.executive.broad'], errors: [] });
    expect(explainDenial(d)).toBeUndefined();
    expect(d.policyVersion).toBe(engine.policySet().version);
    expect(d.durationUs).toBeGreaterThan(0);
  });

  it('neither allows: denied, both sides reported', () => {
    // The HR assistant has no business in core banking, nor has the intern.
    const d = ask('intern', 'hr-assistant', 'call_tool', tool('core-banking', 'issue_credit'), { amount: 5 });
    expect(d.allowed).toBe(false);
    expect(d.agent).toMatchObject({ allowed: false, basis: 'no-permit', policies: [] });
    expect(d.user).toMatchObject({ allowed: false, basis: 'forbid', policies: ['user.intern.no-credit-issuance'] });
    const denial = explainDenial(d)!;
    expect(denial.code).toBe('ERR_NOT_PERMITTED');
    expect(denial.message).toBe('not permitted for this agent or this user');
    expect(denial.detail.sides).toEqual(['agent', 'user']);
    expect(denial.detail.summary).toBe('agent: no permit policy matched; user: forbidden by user.intern.no-credit-issuance');
  });

  it('the public message never names a policy, a rule or an argument', () => {
    const d = ask('loan-clerk', 'credit-assistant', 'run_skill', skill('credit-issuance'), { customerId: 'C-1001', amount: 50_000 });
    const denial = explainDenial(d)!;
    expect(denial.message).toBe('not permitted for this user');
    expect(denial.message).not.toMatch(/loan|amount|10000|policy/);
  });
});

describe('the demo stories', () => {
  it('intern vs CEO compensation through the same HR assistant', () => {
    const own = ask('intern', 'hr-assistant', 'call_tool', tool('hr', 'get_compensation'), { employeeId: 'intern' });
    expect(own.allowed).toBe(true);
    expect(own.user.policies).toEqual(['user.everyone.own-hr-record']);
    const ceos = ask('intern', 'hr-assistant', 'call_tool', tool('hr', 'get_compensation'), { employeeId: 'ceo' });
    expect(ceos.allowed).toBe(false);
    expect(ceos.agent.allowed).toBe(true);
    expect(ceos.user).toMatchObject({ allowed: false, basis: 'no-permit' });
    // Reading, not writing: the self rule covers get_* tools only.
    expect(ask('intern', 'hr-assistant', 'call_tool', tool('hr', 'update_compensation'), { employeeId: 'intern' }).user.allowed).toBe(false);
    expect(ask('ceo', 'hr-assistant', 'call_tool', tool('hr', 'get_compensation'), { employeeId: 'ceo' }).allowed).toBe(true);
    expect(ask('hr-admin', 'hr-assistant', 'call_tool', tool('hr', 'update_compensation'), { employeeId: 'intern' }).allowed).toBe(true);
  });

  it('the coding agent gets its dev tools and nothing of the business systems, even for the CEO', () => {
    expect(ask('ceo', 'coding-agent', 'call_tool', tool('filesystem', 'read_file'), { path: '/tmp/x' }).allowed).toBe(true);
    for (const [server, name] of [['hr', 'get_employee'], ['credit-bureau', 'get_score'], ['core-banking', 'issue_credit']] as const) {
      const d = ask('ceo', 'coding-agent', 'call_tool', tool(server, name), { employeeId: 'ceo', amount: 1 });
      expect(d.agent.allowed, `${server}.${name}`).toBe(false);
    }
    expect(ask('ceo', 'coding-agent', 'run_skill', skill('credit-issuance'), { amount: 1 }).agent).toMatchObject({ allowed: false, basis: 'no-permit' });
  });

  it('approvals: credit officers approve credit steps, never of a run they started', () => {
    const step = { run: { step: 'officer_approval', startedBy: 'loan-clerk' } };
    const ok = ask('credit-officer', 'credit-assistant', 'approve', skill('credit-issuance'), { amount: 50_000 }, step);
    expect(ok.allowed).toBe(true);
    expect(ok.user.policies).toEqual(['user.credit-officer.credit-skills']);
    expect(ask('loan-clerk', 'credit-assistant', 'approve', skill('credit-issuance'), {}, step).user.allowed).toBe(false);
    const own = ask('credit-officer', 'credit-assistant', 'approve', skill('credit-issuance'), {}, { run: { step: 'officer_approval', startedBy: 'credit-officer' } });
    expect(own.user).toMatchObject({ allowed: false, basis: 'forbid', policies: ['user.four-eyes'] });
  });

  it('everyone reads the runs they started, not others\'', () => {
    expect(ask('loan-clerk', 'credit-assistant', 'read_run', skill('credit-issuance'), {}, { run: { startedBy: 'loan-clerk' } }).allowed).toBe(true);
    expect(ask('loan-clerk', 'credit-assistant', 'read_run', skill('credit-issuance'), {}, { run: { startedBy: 'ceo' } }).allowed).toBe(false);
  });
});

describe('argument rules', () => {
  const issue = (amount: unknown) => ask('loan-clerk', 'credit-assistant', 'call_tool', tool('core-banking', 'issue_credit'), { customerId: 'C-1001', amount });
  const run = (amount: unknown) => ask('loan-clerk', 'credit-assistant', 'run_skill', skill('credit-issuance'), { customerId: 'C-1001', amount });

  it('a loan clerk issues up to 10,000 and no more', () => {
    expect(issue(10_000).allowed).toBe(true);
    expect(issue(10_000).user.policies).toEqual(['user.loan-clerk.issue-credit-limit']);
    expect(issue(10_000.01).allowed).toBe(false);
    expect(issue(10_001)).toMatchObject({ allowed: false, user: { basis: 'no-permit' } });
    expect(run(9_999.5).allowed).toBe(true);
    expect(run(12_000).allowed).toBe(false);
    // The credit officer has no limit.
    expect(ask('credit-officer', 'credit-assistant', 'run_skill', skill('credit-issuance'), { amount: 250_000 }).allowed).toBe(true);
  });

  it('an amount that is not a number, or is missing, denies with the reason recorded', () => {
    // "5000" is a plain decimal literal and `amount` is declared decimal: it is read as one.
    expect(issue('5000').allowed).toBe(true);
    const words = issue('five thousand');
    expect(words.user).toMatchObject({ allowed: false, basis: 'error' });
    expect(words.user.errors[0]).toMatch(/^user\.loan-clerk\.issue-credit-limit: type error/);
    const tooPrecise = issue(5000.123456);
    expect(tooPrecise.user.basis).toBe('error');
    const missing = ask('loan-clerk', 'credit-assistant', 'call_tool', tool('core-banking', 'issue_credit'), { customerId: 'C-1001' });
    expect(missing.user).toMatchObject({ allowed: false, basis: 'no-permit' });
  });

  it('arguments trying to smuggle a Cedar entity are refused, with the reason recorded', () => {
    const d = ask('intern', 'hr-assistant', 'call_tool', tool('hr', 'get_compensation'), {
      employeeId: { __entity: { type: 'Skillgate::User', id: 'intern' } },
    });
    expect(d.allowed).toBe(false);
    expect(d.user).toMatchObject({ basis: 'error', errors: ['argument "employeeId.__entity" uses a key reserved by Cedar\'s JSON format'] });
  });

  it('arguments no policy reads do not matter, however large or odd', () => {
    const d = ask('intern', 'hr-assistant', 'call_tool', tool('hr', 'get_compensation'), {
      employeeId: 'intern',
      note: 'x'.repeat(1_000_000),
      weird: { __extn: { fn: 'ip', arg: '1.2.3.4' } },
      nothing: null,
    });
    expect(d.allowed).toBe(true);
  });
});

describe('listings (tools/list)', () => {
  const list = (user: string, agent: string, action: PolicyAction, resource: PolicyResource) =>
    engine.authorizeListing({ principal: who(user, agent), action, resource, gateway: 'test' });

  it('shows what some arguments would allow, hides what no arguments would', () => {
    expect(list('loan-clerk', 'credit-assistant', 'call_tool', tool('core-banking', 'issue_credit'))).toEqual({
      visible: true,
      agent: 'allow',
      user: 'depends-on-arguments',
    });
    expect(list('loan-clerk', 'credit-assistant', 'run_skill', skill('credit-issuance')).visible).toBe(true);
    expect(list('intern', 'hr-assistant', 'call_tool', tool('hr', 'get_compensation'))).toMatchObject({ visible: true, user: 'depends-on-arguments' });
    expect(list('ceo', 'hr-assistant', 'call_tool', tool('hr', 'get_compensation'))).toEqual({ visible: true, agent: 'allow', user: 'allow' });
    // Denied whatever the arguments: hidden.
    expect(list('intern', 'credit-assistant', 'call_tool', tool('core-banking', 'issue_credit'))).toEqual({ visible: false, agent: 'allow', user: 'deny' });
    expect(list('ceo', 'coding-agent', 'call_tool', tool('hr', 'get_compensation'))).toMatchObject({ visible: false, agent: 'deny' });
    expect(list('loan-clerk', 'credit-assistant', 'call_tool', tool('core-banking', 'close_account'))).toMatchObject({ visible: false, user: 'deny' });
  });
});

describe('the decision cache', () => {
  it('answers a repeated request from the cache with the same decision', () => {
    const first = ask('ceo', 'hr-assistant', 'call_tool', tool('hr', 'get_employee'), { employeeId: 'loan-clerk' });
    const again = ask('ceo', 'hr-assistant', 'call_tool', tool('hr', 'get_employee'), { employeeId: 'loan-clerk' });
    expect(again.cached).toBe(true);
    expect({ ...again, cached: false, durationUs: 0 }).toEqual({ ...first, cached: false, durationUs: 0 });
  });

  it('keys on everything the policies read: a different amount or user is a new decision', () => {
    expect(ask('loan-clerk', 'credit-assistant', 'call_tool', tool('core-banking', 'issue_credit'), { amount: 9_000 }).allowed).toBe(true);
    const other = ask('loan-clerk', 'credit-assistant', 'call_tool', tool('core-banking', 'issue_credit'), { amount: 90_000 });
    expect(other.allowed).toBe(false);
    expect(other.cached).toBe(false);
    // The agent side reads no argument: its decision is shared across amounts.
    const agentOnly = ask('loan-clerk', 'credit-assistant', 'call_tool', tool('core-banking', 'issue_credit'), { amount: 1_234 });
    expect(agentOnly.user.allowed).toBe(true);
    const roleChanged = engine.authorize({
      principal: { user: { id: 'loan-clerk', roles: ['intern'], groups: [] }, agent: { id: 'credit-assistant' } },
      action: 'call_tool',
      resource: tool('core-banking', 'issue_credit'),
      gateway: 'test',
      arguments: { amount: 9_000 },
    });
    expect(roleChanged.user).toMatchObject({ allowed: false, basis: 'forbid' });
  });
});

/**
 * Reference: plain Cedar over every policy of the side, with the full entity set (all roles,
 * groups, attributes, parents) and the full context. The engine's slices and pruned requests
 * must decide exactly like this.
 */
const referenceSets = new Set<string>();
function reference(side: Side, req: AuthorizationRequest) {
  const set = engine.policySet();
  // Every policy of the side, preparsed once per policy version (plain Cedar, no slicing).
  const psetId = `reference/${set.version}/${side}`;
  if (!referenceSets.has(psetId)) {
    const answer = preparsePolicySet(psetId, { staticPolicies: Object.fromEntries(set.policies.filter((p) => p.sides.includes(side)).map((p) => [p.id, p.text])) });
    expect(answer.type).toBe('success');
    referenceSets.add(psetId);
  }
  const args = toCedarArguments(req.arguments, set.argumentTypes, undefined);
  if (!args.ok) return { allowed: false, policies: [] as string[], errors: [args.error] };
  const t = (name: string, id: string) => ({ type: `Skillgate::${name}`, id });
  const entities: EntityJson[] = [];
  const principal = side === 'agent' ? t('Agent', req.principal.agent.id) : t('User', req.principal.user.id);
  if (side === 'user') {
    const u = req.principal.user;
    entities.push({ uid: principal, attrs: { id: u.id }, parents: [...u.roles.map((r) => t('Role', r)), ...u.groups.map((g) => t('Group', g))] });
  } else entities.push({ uid: principal, attrs: {}, parents: [] });
  const r = req.resource;
  const item = serverItem(r);
  const resource = item ? t(item.type, item.id) : t('Skill', (r as { name: string }).name);
  if (item) entities.push({ uid: resource, attrs: { name: item.name, server: item.server }, parents: [t('Server', item.server)] });
  else entities.push({ uid: resource, attrs: { name: (r as { name: string }).name }, parents: [] });
  const context = { gateway: req.gateway, side, arguments: args.value, ...(req.run?.step ? { step: req.run.step } : {}), ...(req.run?.startedBy ? { startedBy: req.run.startedBy } : {}) };
  const answer = statefulIsAuthorized({ principal, action: t('Action', req.action), resource, context, entities, preparsedPolicySetId: psetId });
  if (answer.type === 'failure') throw new Error(answer.errors.map((e) => e.message).join('; '));
  const { decision, diagnostics } = answer.response;
  const errors = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`).sort();
  return { allowed: decision === 'allow' && errors.length === 0, policies: [...diagnostics.reason].sort(), errors };
}

describe('slices, pruned requests and the cache decide as plain Cedar does', () => {
  // The second engine keeps no slice and no decision: every call takes the slow path.
  const uncached = createPolicyEngine({ config, files: ['policies/*.cedar'], cacheSize: 0, maxSlices: 0 });
  afterAll(() => uncached.close());

  it('over every combination of demo user, agent, action and resource', () => {
    const users = [...Object.keys(config.config.users), 'stranger'];
    const agents = [...Object.keys(config.config.agents), 'unknown-agent'];
    const resources: PolicyResource[] = [
      tool('hr', 'get_compensation'),
      tool('hr', 'update_compensation'),
      tool('core-banking', 'issue_credit'),
      tool('core-banking', 'get_customer'),
      tool('credit-bureau', 'get_score'),
      tool('filesystem', 'read_file'),
      tool('mail', 'send'),
      skill('credit-issuance'),
      skill('hr-onboarding'),
      skill('other'),
      { type: 'resource', server: 'everything', uri: 'demo://resource/static/document/features.md' },
      { type: 'resource', server: 'hr', uri: 'hr://employees' },
      { type: 'prompt', server: 'everything', prompt: 'simple-prompt' },
    ];
    const argSets: Array<Record<string, unknown>> = [{}, { employeeId: 'intern', amount: 500 }, { employeeId: 'ceo', amount: 20_000.5 }, { amount: 'x' }];
    const runs = [undefined, { step: 'officer_approval', startedBy: 'credit-officer' }, { startedBy: 'intern' }];
    let compared = 0;
    for (const user of users) {
      const roles = config.config.users[user]?.roles ?? [];
      for (const agent of agents) {
        for (const action of ['call_tool', 'read_resource', 'get_prompt', 'run_skill', 'approve', 'read_run'] as const) {
          for (const resource of resources) {
            if (ACTION_OF[resource.type] !== action && !(resource.type === 'skill' && (action === 'approve' || action === 'read_run'))) continue;
            for (const args of argSets) {
              for (const run of runs) {
                const req: AuthorizationRequest = {
                  principal: { user: { id: user, roles, groups: ['staff'] }, agent: { id: agent } },
                  action,
                  resource,
                  gateway: 'g',
                  arguments: args,
                  ...(run ? { run } : {}),
                };
                const refs = { agent: reference('agent', req), user: reference('user', req) };
                // Twice (the second answer is a cache hit), and from an engine that keeps nothing.
                for (const d of [engine.authorize(req), engine.authorize(req), uncached.authorize(req)]) {
                  for (const side of ['agent', 'user'] as const) {
                    const label = `${side} ${user}/${agent} ${action} ${JSON.stringify(resource)} ${JSON.stringify(args)} ${JSON.stringify(run)}`;
                    expect({ allowed: d[side].allowed, policies: d[side].policies, errors: d[side].errors }, label).toEqual(refs[side]);
                    compared++;
                  }
                }
              }
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(10_000);
    // Thousands of Cedar evaluations, a third of them uncached: minutes on a busy two-core box.
  }, 240_000);
});
