/**
 * Load a policy set: expand the file patterns, parse every `.cedar` file, build the schema
 * (Skillgate's entity model + the workspace's `.cedarschema` declarations), validate every
 * policy against it, and sort the policies into the agent side and the user side.
 * All problems of all files are reported at once, as `file:line:col` diagnostics.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  checkParseSchema,
  getValidRequestEnvsPolicy,
  schemaToJson,
  schemaToJsonWithResolvedTypes,
  validate,
  type DetailedError,
} from '@cedar-policy/cedar-wasm/nodejs';
import type { SkillgateConfig } from '../../src/config/schema.js';
import { type Diagnostic, didYouMean } from '../../src/shared/diagnostics.js';
import { type PolicyReads, policyReads } from './analyze.js';
import { type ArgType, argTypeFromSchema } from './arguments.js';
import { PolicyLoadError } from './errors.js';
import { displayPath, expandPolicyFiles } from './files.js';
import { entityType, NAMESPACE, schemaText, type Side } from './model.js';
import { type PolicyScope, scopeOf } from './slice.js';
import { cedarDiagnostic, flatten, parsePolicyFile, type SourcePolicy, TextPositions } from './source.js';

/** A loaded policy: where it is, what it says, which side(s) it can apply to. */
export interface LoadedPolicy extends SourcePolicy {
  effect: 'permit' | 'forbid';
  /** Sides whose principal type the policy can match (from the schema). */
  sides: Side[];
  /** Principal and action constraints, for slicing. */
  scope: PolicyScope;
  reads: PolicyReads;
}

/** A validated policy set, ready for the engine. */
export interface PolicySet {
  /** Short content hash of every file (paths and texts): names this policy version in the audit. */
  version: string;
  policies: readonly LoadedPolicy[];
  /** The Cedar schema text the policies were validated against. */
  schema: string;
  /** The workspace's declared `Arguments`, used to type argument values. */
  argumentTypes: ArgType | undefined;
  /** Absolute paths of the files read. */
  files: { policies: string[]; schemas: string[]; folders: string[] };
  /** Not fatal: missing `@id`s, policies that can never apply, unknown agents or servers. */
  warnings: Diagnostic[];
}

export interface LoadPoliciesOptions {
  /** Folder relative patterns are resolved against, and paths are shown relative to (default: cwd). */
  baseDir?: string;
  /** When given, entity references in policies are checked against its agents and servers. */
  config?: SkillgateConfig;
}

/**
 * Load and validate the policy files matched by `patterns`.
 * @throws PolicyLoadError with every diagnostic when anything is wrong.
 * @example loadPolicies(['policies/*.cedar'], { baseDir: loaded.baseDir, config: loaded.config })
 */
export function loadPolicies(patterns: readonly string[], options: LoadPoliciesOptions = {}): PolicySet {
  const baseDir = options.baseDir ?? process.cwd();
  const files = expandPolicyFiles(patterns, baseDir);
  const errors: Diagnostic[] = [...files.errors];
  const warnings: Diagnostic[] = [];
  const hash = createHash('sha256');

  const read = (abs: string): { file: string; text: string } | undefined => {
    const file = displayPath(abs, baseDir);
    try {
      const text = readFileSync(abs, 'utf8');
      hash.update(`${file}\0${text}\0`);
      return { file, text };
    } catch (err) {
      errors.push({ file, line: 0, col: 0, code: 'policy-file-unreadable', message: `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` });
      return undefined;
    }
  };

  const schema = buildSchema(files.schemas.map(read).filter((x) => x !== undefined), errors);

  const positions = new Map<string, TextPositions>();
  const byId = new Map<string, SourcePolicy>();
  for (const abs of files.policies) {
    const src = read(abs);
    if (!src) continue;
    positions.set(src.file, new TextPositions(src.text));
    const parsed = parsePolicyFile(src.file, src.text);
    errors.push(...parsed.errors);
    warnings.push(...parsed.warnings);
    for (const p of parsed.policies) {
      const first = byId.get(p.id);
      if (first) {
        errors.push({
          file: p.file,
          line: p.line,
          col: p.col,
          code: 'policy-id-duplicate',
          message: `duplicate policy id "${p.id}" (first used at ${first.file}:${first.line}:${first.col})`,
          hint: 'policy ids name the deciding policy in the audit trail; make each one unique',
        });
      } else byId.set(p.id, p);
    }
  }

  const policies: LoadedPolicy[] = [];
  if (schema) {
    errors.push(...validatePolicies([...byId.values()], schema.text, positions, warnings));
    // Parsed once: handing the text to every call below would parse it per policy.
    const schemaJson = schemaToJson(schema.text);
    const typedSchema = schemaJson.type === 'success' ? schemaJson.json : schema.text;
    const schemaKey = createHash('sha256').update(schema.text).digest('base64');
    for (const p of byId.values()) {
      const principals = principalsOf(schemaKey, typedSchema, p.text);
      const sides: Side[] = [];
      if (principals.includes(entityType('Agent'))) sides.push('agent');
      if (principals.includes(entityType('User'))) sides.push('user');
      const reads = policyReads(p.json);
      policies.push({ ...p, effect: p.json.effect, sides, scope: scopeOf(p.json), reads });
      if (options.config) warnings.push(...referenceWarnings(p, reads, options.config, positions.get(p.file)));
    }
  }

  if (errors.length) throw new PolicyLoadError(errors);
  return {
    version: hash.digest('hex').slice(0, 12),
    policies,
    schema: schema!.text,
    argumentTypes: schema!.argumentTypes,
    files: { policies: files.policies, schemas: files.schemas, folders: files.folders },
    warnings,
  };
}

/**
 * The principal types a policy applies to under a schema (which side of the AND-gate it
 * governs), remembered per (schema, policy text): Cedar's request-environment analysis is
 * most of a load (about 60 % in a CPU profile: the schema crosses into WASM for each policy),
 * and a reload after an edit then analyses only the policies whose text changed. Bounded: the
 * map starts over past MAX_REMEMBERED entries.
 */
const remembered = new Map<string, readonly string[]>();
const MAX_REMEMBERED = 10_000;

function principalsOf(schemaKey: string, typedSchema: Parameters<typeof getValidRequestEnvsPolicy>[1], text: string): readonly string[] {
  const key = `${schemaKey}\0${text}`;
  const known = remembered.get(key);
  if (known) return known;
  const envs = getValidRequestEnvsPolicy(text, typedSchema);
  const principals: readonly string[] = Object.freeze(envs.type === 'success' ? [...envs.principals] : []);
  if (remembered.size >= MAX_REMEMBERED) remembered.clear();
  remembered.set(key, principals);
  return principals;
}

const FRAGMENT_PREFIX = `namespace ${NAMESPACE} {\n`;

/**
 * Skillgate's model + the workspace declarations. A `.cedarschema` file holds declarations
 * without a namespace block; they are placed in the Skillgate namespace. Only types may be
 * declared: entities and actions are built by the engine and cannot be added by a workspace.
 */
function buildSchema(
  sources: Array<{ file: string; text: string }>,
  errors: Diagnostic[],
): { text: string; argumentTypes: ArgType | undefined } | undefined {
  const before = errors.length;
  const commonTypes: Record<string, unknown> = {};
  for (const { file, text } of sources) {
    const positions = new TextPositions(text);
    const wrapped = `${FRAGMENT_PREFIX}${text}\n}`;
    const parsed = schemaToJsonWithResolvedTypes(wrapped);
    if (parsed.type === 'failure') {
      const hint = /^\s*namespace\b/m.test(text)
        ? 'write the declarations without `namespace … { }`: they are placed in the Skillgate namespace'
        : undefined;
      for (const e of flatten(parsed.errors)) {
        const d = schemaDiagnostic(e, file, text, wrapped, FRAGMENT_PREFIX.length, positions);
        errors.push(hint ? { ...d, hint } : d);
      }
      continue;
    }
    const ns = parsed.json[NAMESPACE] ?? { entityTypes: {}, actions: {}, commonTypes: {} };
    const declared = [...Object.keys(ns.entityTypes ?? {}).map((n) => `entity ${n}`), ...Object.keys(ns.actions ?? {}).map((n) => `action ${n}`)];
    if (declared.length) {
      errors.push({
        file,
        line: 0,
        col: 0,
        code: 'schema-scope',
        message: `a workspace schema declares types only; found ${declared.join(', ')}`,
        hint: 'entity types and actions are Skillgate\'s (see gateway/policy/model.ts); declare `type Arguments = { … };` here',
      });
    }
    for (const [name, t] of Object.entries(ns.commonTypes ?? {})) commonTypes[name] = t;
  }
  if (errors.length > before) return undefined;

  const fragments = sources.map((s) => s.text).join('\n');
  const { text, workspaceOffset } = schemaText(sources.length && Object.hasOwn(commonTypes, 'Arguments') ? fragments : `${fragments}\n  type Arguments = {};\n`);
  const check = checkParseSchema(text);
  if (check.type === 'failure') {
    for (const e of flatten(check.errors)) errors.push(combinedSchemaDiagnostic(e, text, workspaceOffset, sources));
    return undefined;
  }
  return { text, argumentTypes: argTypeFromSchema(commonTypes) };
}

function schemaDiagnostic(e: DetailedError, file: string, text: string, wrapped: string, prefix: number, positions: TextPositions): Diagnostic {
  const loc = e.sourceLocations?.[0];
  const charOffset = loc ? Buffer.from(wrapped, 'utf8').subarray(0, loc.start).toString('utf8').length - prefix : -1;
  const at = charOffset >= 0 && charOffset <= text.length ? positions.lineCol(charOffset) : { line: 0, col: 0 };
  const label = loc?.label ? ` (${loc.label})` : '';
  return { file, ...at, code: 'schema-invalid', message: `${e.message.replace(/^failed to parse schema from string: /, '')}${label}`, ...(e.help ? { hint: e.help } : {}) };
}

/** An error in the combined schema: usually a workspace type clashing with a built-in name. */
function combinedSchemaDiagnostic(e: DetailedError, text: string, workspaceOffset: number, sources: Array<{ file: string; text: string }>): Diagnostic {
  for (const loc of e.sourceLocations ?? []) {
    let at = Buffer.from(text, 'utf8').subarray(0, loc.start).toString('utf8').length - workspaceOffset;
    for (const s of sources) {
      if (at >= 0 && at <= s.text.length) {
        return { file: s.file, ...new TextPositions(s.text).lineCol(at), code: 'schema-invalid', message: e.message.replace(/^failed to parse schema from string: /, ''), ...(e.help ? { hint: e.help } : {}) };
      }
      at -= s.text.length + 1;
    }
  }
  return {
    file: sources[0]?.file ?? '(schema)',
    line: 0,
    col: 0,
    code: 'schema-invalid',
    message: `the workspace schema does not combine with Skillgate's entity model: ${e.message}`,
    hint: 'names used by Skillgate (User, Agent, Role, Group, Tool, Server, Skill, RequestContext) cannot be redeclared',
  };
}

/** Strict validation of every parsed policy; errors become diagnostics, warnings go to `warnings`. */
function validatePolicies(policies: SourcePolicy[], schema: string, positions: Map<string, TextPositions>, warnings: Diagnostic[]): Diagnostic[] {
  if (!policies.length) return [];
  const byId = new Map(policies.map((p) => [p.id, p]));
  const answer = validate({
    schema,
    policies: { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.text])) },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type === 'failure') {
    return flatten(answer.errors).map((e) => ({ file: '(policies)', line: 0, col: 0, code: 'policy-invalid', message: e.message }));
  }
  const toDiagnostics = (list: Array<{ policyId: string; error: DetailedError }>, code: string): Diagnostic[] => {
    // The validator repeats an error once per action the policy applies to; one is enough.
    const seen = new Set<string>();
    const out: Diagnostic[] = [];
    for (const { policyId, error } of list) {
      const p = byId.get(policyId);
      const loc = error.sourceLocations?.[0];
      const key = `${policyId}|${loc?.start}|${loc?.end}|${error.help ?? error.message}`;
      if (!p || seen.has(key)) continue;
      seen.add(key);
      out.push(cedarDiagnostic(error, p.file, p.text, p.offset, positions.get(p.file)!, code));
    }
    return out;
  };
  warnings.push(...toDiagnostics(answer.validationWarnings, 'policy-warning'));
  warnings.push(...answer.otherWarnings.map((e) => ({ file: '(policies)', line: 0, col: 0, code: 'policy-warning', message: e.message })));
  return toDiagnostics(answer.validationErrors, 'policy-invalid');
}

/** Agents and servers named in a policy but absent from skillgate.yaml: likely typos. */
function referenceWarnings(p: SourcePolicy, reads: PolicyReads, config: SkillgateConfig, positions: TextPositions | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  const where = (id: string): { line: number; col: number } => {
    const i = p.text.indexOf(JSON.stringify(id));
    return positions && i >= 0 ? positions.lineCol(p.offset + i) : { line: p.line, col: p.col };
  };
  const check = (kind: 'agent' | 'server', id: string, known: string[]): void => {
    if (known.includes(id)) return;
    const guess = didYouMean(id, known);
    out.push({
      file: p.file,
      ...where(id),
      code: `policy-unknown-${kind}`,
      message: `policy "${p.id}" names ${kind} "${id}", which is not in skillgate.yaml`,
      hint: guess ? `did you mean "${guess}"?` : `known ${kind}s: ${known.join(', ') || '(none)'}`,
    });
  };
  const agents = Object.keys(config.agents);
  const servers = Object.keys(config.servers);
  const done = new Set<string>();
  for (const e of reads.entities) {
    const key = `${e.type}\0${e.id}`;
    if (done.has(key)) continue;
    done.add(key);
    if (e.type === entityType('Agent')) check('agent', e.id, agents);
    else if (e.type === entityType('Server')) check('server', e.id, servers);
    else if (e.type === entityType('Tool')) {
      const dot = e.id.indexOf('.');
      if (dot > 0) check('server', e.id.slice(0, dot), servers);
    }
  }
  return out;
}
