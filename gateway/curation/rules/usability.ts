/**
 * LLM usability: what decides whether a model picks the right tool and fills it in right —
 * descriptions, parameter descriptions, enums, required lists, parameter count, names, and
 * tools that look alike.
 */
import { describes, nameWords, quote } from '../text.js';
import { propertiesOf } from './security.js';
import type { RawFinding, ServerRule, ToolRule } from './types.js';

const isObject = (v: unknown): v is { [k: string]: unknown } => v !== null && typeof v === 'object' && !Array.isArray(v);
const descriptionOf = (tool: { readonly [k: string]: unknown }): string => (typeof tool.description === 'string' ? tool.description.trim() : '');

const descriptionMissing: ToolRule = {
  id: 'SG-USE-001',
  family: 'usability',
  level: 'warning',
  scope: 'tool',
  name: 'No description',
  why: 'The description is all a model has to choose a tool by; without it the model guesses from the name, and picks wrong.',
  check: (tool) => (descriptionOf(tool) ? [] : [{ pointer: '/description', message: 'the tool has no description' }]),
};

const descriptionShort: ToolRule = {
  id: 'SG-USE-002',
  family: 'usability',
  level: 'note',
  scope: 'tool',
  name: 'Description too short',
  why: 'A description of a few words says what the tool is called, not what it does, what it returns, or when to use it rather than its neighbours.',
  check(tool) {
    const d = descriptionOf(tool);
    if (!d) return [];
    const words = d.split(/\s+/).length;
    return words < 4 || d.length < 20 ? [{ pointer: '/description', message: `${words} word${words === 1 ? '' : 's'}: ${quote(d)}` }] : [];
  },
};

const descriptionLong: ToolRule = {
  id: 'SG-USE-003',
  family: 'usability',
  level: 'note',
  scope: 'tool',
  name: 'Description very long',
  why: 'Every description is sent to the model with every request; a very long one costs tokens on every turn and buries the sentence that matters.',
  check(tool) {
    const d = descriptionOf(tool);
    return d.length > 1500 ? [{ pointer: '/description', message: `${d.length} characters (≈${Math.ceil(d.length / 4)} tokens) sent with every request` }] : [];
  },
};

const parameterUndescribed: ToolRule = {
  id: 'SG-USE-004',
  family: 'usability',
  level: 'note',
  scope: 'tool',
  name: 'Parameter without description',
  why: 'A parameter the schema does not describe (format, unit, example) is filled in by guesswork; an id in the wrong format is the most common failed call.',
  check: (tool) =>
    propertiesOf(tool.inputSchema)
      .filter((p) => !describes(p.schema) && p.schema.enum === undefined && p.schema.const === undefined)
      .map((p) => ({ pointer: p.pointer, message: `"${p.name}" has no description` })),
};

/** Parameter names that usually take one of a few values. */
const CLOSED_SET = new Set(['type', 'kind', 'mode', 'status', 'state', 'format', 'level', 'category', 'sort', 'order', 'direction', 'unit', 'currency', 'priority', 'severity', 'region', 'method', 'visibility', 'role']);

const enumCandidate: ToolRule = {
  id: 'SG-USE-005',
  family: 'usability',
  level: 'note',
  scope: 'tool',
  name: 'Closed set without enum',
  why: 'A parameter like "status" or "sortBy" takes one of a few values; without an `enum` the model invents one, and the call fails or, worse, means something else.',
  check: (tool) =>
    propertiesOf(tool.inputSchema)
      .filter((p) => {
        const w = nameWords(p.name);
        const last = w[w.length - 1] ?? '';
        // One word ("status"), or sort/order compounds ("sortBy"): "entityType" names a user-defined type, not a closed set.
        return (p.schema.type === 'string' || p.schema.type === undefined) && ((w.length === 1 && CLOSED_SET.has(last)) || ((w[0] === 'sort' || w[0] === 'order') && w.length <= 2)) && p.schema.enum === undefined && p.schema.const === undefined && typeof p.schema.pattern !== 'string' && !Array.isArray(p.schema.oneOf) && !Array.isArray(p.schema.anyOf);
      })
      .map((p) => ({ pointer: p.pointer, message: `"${p.name}" sounds like one of a few values but has no enum` })),
};

const requiredMissing: ToolRule = {
  id: 'SG-USE-006',
  family: 'usability',
  level: 'note',
  scope: 'tool',
  name: 'No required list',
  why: 'Without `required`, every parameter looks optional: the model leaves out the one the tool needs, and the call fails on the server instead of being right the first time.',
  check(tool) {
    const s = tool.inputSchema;
    if (!isObject(s) || !isObject(s.properties) || Array.isArray(s.required)) return [];
    const undefaulted = Object.entries(s.properties).filter(([, p]) => isObject(p) && p.default === undefined).map(([n]) => n);
    return undefaulted.length ? [{ pointer: '/inputSchema/required', message: `no parameter is required, and ${undefaulted.map((n) => `"${n}"`).slice(0, 4).join(', ')} ${undefaulted.length === 1 ? 'has' : 'have'} no default` }] : [];
  },
};

const tooManyParameters: ToolRule = {
  id: 'SG-USE-007',
  family: 'usability',
  level: 'warning',
  scope: 'tool',
  name: 'Too many parameters',
  why: 'Models fill in tools with many parameters less reliably; more than a dozen usually means several tools in one.',
  check(tool) {
    const s = tool.inputSchema;
    const n = isObject(s) && isObject(s.properties) ? Object.keys(s.properties).length : 0;
    return n > 12 ? [{ pointer: '/inputSchema/properties', message: `${n} top-level parameters` }] : [];
  },
};

const GENERIC = new Set(['run', 'do', 'exec', 'execute', 'tool', 'process', 'handle', 'handler', 'action', 'call', 'invoke', 'api', 'main', 'test', 'helper', 'function', 'func', 'util', 'misc', 'data', 'get', 'set', 'query', 'request']);

const unclearName: ToolRule = {
  id: 'SG-USE-008',
  family: 'usability',
  level: 'note',
  scope: 'tool',
  name: 'Unclear name',
  why: 'The name is the first thing a model matches a request against; "run" or "x" says nothing about what the tool acts on.',
  check(tool) {
    if (typeof tool.name !== 'string') return [];
    const words = nameWords(tool.name);
    if (tool.name.length < 3 || (words.length === 1 && GENERIC.has(words[0]!)) || words.length === 0) return [{ pointer: '/name', message: `${quote(tool.name)} does not say what it acts on` }];
    return [];
  },
};

const deprecated: ToolRule = {
  id: 'SG-USE-009',
  family: 'usability',
  level: 'note',
  scope: 'tool',
  name: 'Deprecated tool still listed',
  why: 'A deprecated tool competes with its replacement for the model\'s choice; leave it out of the catalog and approve the replacement.',
  check(tool) {
    const d = descriptionOf(tool);
    const m = /\bdeprecated\b/i.exec(d);
    return m ? [{ pointer: '/description', message: `says it is deprecated: ${quote(d, m.index, m[0].length)}` }] : [];
  },
};

const noTitle: ToolRule = {
  id: 'SG-USE-010',
  family: 'usability',
  level: 'note',
  scope: 'tool',
  name: 'No title',
  why: 'The title is what people see when a client asks them to confirm a call; without it they are shown the raw name.',
  check: (tool) => (typeof tool.title === 'string' || (isObject(tool.annotations) && typeof tool.annotations.title === 'string') ? [] : [{ pointer: '/title', message: 'no title for people to read' }]),
};

/** Levenshtein distance, bounded (names are short). */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

function wordSet(s: string): Set<string> {
  return new Set(s.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 2));
}

const lookAlikes: ServerRule = {
  id: 'SG-USE-011',
  family: 'usability',
  level: 'warning',
  scope: 'server',
  name: 'Tools that look alike',
  why: 'Two tools whose names differ by a character or whose descriptions say the same thing make the model pick by chance — and a look-alike is how a poisoned tool catches calls meant for a good one.',
  check(ctx) {
    const tools = ctx.inventory.tools.filter((t): t is { name: string; description?: unknown } & { [k: string]: unknown } => typeof t.name === 'string');
    const out: RawFinding[] = [];
    for (let i = 0; i < tools.length; i++) {
      for (let j = i + 1; j < tools.length; j++) {
        const a = tools[i]!;
        const b = tools[j]!;
        const na = nameWords(a.name).join('');
        const nb = nameWords(b.name).join('');
        const close = na === nb || (Math.min(na.length, nb.length) >= 5 && distance(na, nb) <= 1);
        const da = wordSet(typeof a.description === 'string' ? a.description : '');
        const db = wordSet(typeof b.description === 'string' ? b.description : '');
        const inter = [...da].filter((w) => db.has(w)).length;
        const jaccard = da.size >= 6 && db.size >= 6 ? inter / (da.size + db.size - inter) : 0;
        if (close) out.push({ tool: b.name, pointer: `/tools/${j}/name`, message: `"${b.name}" and "${a.name}" differ by at most one character` });
        else if (jaccard >= 0.85) out.push({ tool: b.name, pointer: `/tools/${j}/description`, message: `"${b.name}" is described almost exactly like "${a.name}" (${Math.round(jaccard * 100)} % of words shared)` });
      }
    }
    return out;
  },
};

export const USABILITY_RULES = [descriptionMissing, descriptionShort, descriptionLong, parameterUndescribed, enumCandidate, requiredMissing, tooManyParameters, unclearName, deprecated, noTitle, lookAlikes] as const;
