/**
 * The Cedar entity model of the AND-gate (PRODUCT.md "The AND-gate").
 *
 * Every request is evaluated twice, as two separate Cedar requests over the same action,
 * resource and context: once with the agent as principal, once with the user. A side allows
 * only if a permit matches, no forbid matches and no policy errors; the request is allowed
 * only if both sides allow. So a broad agent never lifts a narrow user, and a powerful user
 * never lifts a narrow agent.
 *
 * ```
 * namespace Skillgate
 *   principals  User  { id: String }   in [Role, Group]   token `sub`; roles/groups from IdP claims
 *               Agent                                      the OAuth client, an agent in skillgate.yaml
 *   parents     Role, Group                                `principal in Skillgate::Role::"hr-admin"`
 *   resources   Tool  { name: String, server: String } in [Server]
 *                     uid `<server>.<tool>`, e.g. Skillgate::Tool::"core-banking.issue_credit"
 *               Server                                     `resource in Skillgate::Server::"hr"`
 *               Resource { name: String, server: String } in [Server]
 *                     uid `<server>+<uri>`, name = the URI, e.g. Skillgate::Resource::"filesystem+file:///docs/a.md"
 *               Prompt { name: String, server: String } in [Server]
 *                     uid `<server>.<prompt>`, e.g. Skillgate::Prompt::"everything.simple-prompt"
 *               Skill { name: String }                     uid = the skill's folder name
 *   actions     call_tool (Tool) · read_resource (Resource) · get_prompt (Prompt)
 *               · run_skill, approve, read_run, cancel_run (Skill)
 *   context     { gateway: String,        the gateway the request came through
 *                 side: String,           "agent" or "user": which evaluation this is
 *                 arguments: Arguments,   the tool call arguments / skill inputs (see arguments.ts)
 *                 step?: String,          approve: the step being approved
 *                 startedBy?: String }    approve / read_run / cancel_run: the user id that started the run
 * ```
 *
 * Roles and groups are parents of the user rather than `Set<String>` attributes: `principal in
 * Skillgate::Role::"x"` says what `principal.roles.contains("x")` would, and cedar-wasm
 * deserialises every value of every entity on every call (≈ 5 µs per value here), so the model
 * carries each fact once. The engine passes only what the applicable policies can read
 * (request.ts): a user's `id` only if some policy reads it, a role only if some policy names it.
 *
 * `Arguments` is declared per workspace in a `.cedarschema` file next to the policies
 * (`type Arguments = { amount?: decimal, … };`, see arguments.ts for how JSON is typed);
 * without one it is the empty record, and a policy reading an argument fails validation.
 */
import type { Principal } from '../../src/contracts/principal.js';

/** Cedar namespace of every Skillgate entity type and action. */
export const NAMESPACE = 'Skillgate';

/** What a request asks to do. */
export type PolicyAction = 'call_tool' | 'read_resource' | 'get_prompt' | 'run_skill' | 'approve' | 'read_run' | 'cancel_run';

export const POLICY_ACTIONS: readonly PolicyAction[] = ['call_tool', 'read_resource', 'get_prompt', 'run_skill', 'approve', 'read_run', 'cancel_run'];

/**
 * What a request acts on: something an upstream server offers — a tool, a resource (by URI),
 * a prompt — or a skill (folder name).
 */
export type PolicyResource =
  | { type: 'tool'; server: string; tool: string }
  | { type: 'resource'; server: string; uri: string }
  | { type: 'prompt'; server: string; prompt: string }
  | { type: 'skill'; name: string };

/** The action that uses a resource of this type (listings ask whether it would be allowed). */
export const ACTION_OF: Readonly<Record<PolicyResource['type'], PolicyAction>> = {
  tool: 'call_tool',
  resource: 'read_resource',
  prompt: 'get_prompt',
  skill: 'run_skill',
};

/** A server's tool, resource or prompt as a Cedar entity: its type, uid, `name` and `server`. */
export interface ServerItem {
  type: 'Tool' | 'Resource' | 'Prompt';
  id: string;
  name: string;
  server: string;
}

/** The Cedar entity of a server-scoped resource; undefined for a skill. */
export function serverItem(r: PolicyResource): ServerItem | undefined {
  switch (r.type) {
    case 'tool':
      return { type: 'Tool', id: toolUid(r.server, r.tool), name: r.tool, server: r.server };
    case 'resource':
      return { type: 'Resource', id: `${r.server}+${r.uri}`, name: r.uri, server: r.server };
    case 'prompt':
      return { type: 'Prompt', id: `${r.server}.${r.prompt}`, name: r.prompt, server: r.server };
    case 'skill':
      return undefined;
  }
}

/** One of the two evaluations of the AND-gate. */
export type Side = 'agent' | 'user';

/**
 * One authorization question: may this principal (both of its identities) do `action` on
 * `resource`, through `gateway`, with these arguments?
 *
 * @example
 * { principal, action: 'call_tool', resource: { type: 'tool', server: 'hr', tool: 'get_compensation' },
 *   gateway: 'hr-desk', arguments: { employeeId: 'intern' } }
 */
export interface AuthorizationRequest {
  principal: Principal;
  action: PolicyAction;
  resource: PolicyResource;
  gateway: string;
  /** Tool call arguments; for run_skill / approve / read_run / cancel_run the skill run's inputs. */
  arguments?: Readonly<Record<string, unknown>>;
  /** approve / read_run / cancel_run: the run in question. */
  run?: { step?: string; startedBy?: string };
}

/**
 * The built-in part of the schema; the workspace's `.cedarschema` declarations (at least
 * `type Arguments`) are inserted into the same namespace by `schemaText`.
 */
const BUILTIN_DECLARATIONS = `
  entity Role, Group;
  entity User in [Role, Group] { id: String };
  entity Agent;
  entity Server;
  entity Tool in [Server] { name: String, server: String };
  entity Resource in [Server] { name: String, server: String };
  entity Prompt in [Server] { name: String, server: String };
  entity Skill { name: String };
  type RequestContext = {
    gateway: String,
    side: String,
    arguments: Arguments,
    step?: String,
    startedBy?: String,
  };
  action call_tool appliesTo { principal: [User, Agent], resource: [Tool], context: RequestContext };
  action read_resource appliesTo { principal: [User, Agent], resource: [Resource], context: RequestContext };
  action get_prompt appliesTo { principal: [User, Agent], resource: [Prompt], context: RequestContext };
  action run_skill, approve, read_run, cancel_run appliesTo { principal: [User, Agent], resource: [Skill], context: RequestContext };
`;

/**
 * The full Cedar schema text: the built-in model plus the workspace's declarations.
 * `workspace` is undefined when the workspace declares nothing (then `Arguments = {}`).
 * Returns the text and the offset at which `workspace` starts, to map schema errors back.
 */
export function schemaText(workspace: string | undefined): { text: string; workspaceOffset: number } {
  const head = `namespace ${NAMESPACE} {${BUILTIN_DECLARATIONS}\n`;
  const body = workspace ?? '  type Arguments = {};\n';
  return { text: `${head}${body}\n}\n`, workspaceOffset: head.length };
}

/** `Skillgate::<type>` */
export function entityType(name: 'User' | 'Agent' | 'Role' | 'Group' | 'Tool' | 'Resource' | 'Prompt' | 'Server' | 'Skill' | 'Action'): string {
  return `${NAMESPACE}::${name}`;
}

/** The Cedar uid of a tool: `<server>.<tool>`. */
export function toolUid(server: string, tool: string): string {
  return `${server}.${tool}`;
}
