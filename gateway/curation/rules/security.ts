/**
 * Security: what a server can make the model do through text it controls (tool poisoning,
 * hidden characters, shadowing, exfiltration), and schemas that invite abuse. Text rules read
 * every string of a definition — description, title, schema descriptions, defaults, enums,
 * examples, property names — and, at the server level, its instructions and the descriptions
 * of its prompts and resources (same rule ids, located at `/instructions`, `/prompts/…`).
 */
import { BIDI, nameWords, quote, TAG_CHARS, textsOf, type TextAt, token, ZERO_WIDTH } from '../text.js';
import type { RawFinding, RuleContext, ServerRule, ToolRule } from './types.js';

type TextCheck = (texts: TextAt[], ctx: RuleContext, self: string | undefined) => RawFinding[];

/** The first match of any pattern in each text, quoted. */
function matches(patterns: readonly RegExp[], texts: TextAt[], what: string): RawFinding[] {
  const out: RawFinding[] = [];
  for (const t of texts) {
    for (const re of patterns) {
      const m = re.exec(t.text);
      if (m) {
        out.push({ pointer: t.pointer, message: `${what}: ${quote(t.text, m.index, m[0].length)}` });
        break;
      }
    }
  }
  return out;
}

/** Phrases that address the model with orders the user is not meant to see (tool poisoning). */
const INJECTION: readonly RegExp[] = [
  /<\/?\s*(important|system|instructions?|secret|hidden|admin|prompt)\s*>/i,
  /\[\/?(INST|SYSTEM)\]|<\|im_start\|>|<\|system\|>/i,
  /\b(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+)?(previous|prior|above|earlier|other|existing)\s+(instructions?|prompts?|rules|directions|guidelines)/i,
  /\b(do\s+not|don'?t|never)\s+(tell|inform|mention|reveal|show|notify|alert)\s+(this\s+to\s+|it\s+to\s+)?(the\s+)?user/i,
  /\bwithout\s+(telling|informing|notifying|asking|alerting)\s+(the\s+)?user/i,
  /\b(the\s+)?user\s+(must|should)\s+not\s+(know|see|be\s+told)/i,
  /\b(new|updated|real|actual)\s+(system\s+)?instructions?\s*:/i,
  /\byour\s+system\s+prompt\b|\byou\s+are\s+now\s+(a|an|in)\b/i,
  /\b(very|extremely)\s+important\b.{0,80}\b(otherwise|or\s+else)\b/i,
];

/** Text that steers the model to another tool or server, or rewires it (shadowing). */
const STEERING: readonly RegExp[] = [
  /\bbefore\s+(using|calling|invoking|running|executing)\s+(this|any|the|that|other)\b[^.]{0,40}\btools?\b/i,
  /\bwhen\s+(this|the)\s+tool\s+is\s+(available|present|loaded|installed)\b/i,
  /\b(instead\s+of|rather\s+than)\s+(using|calling|invoking)\s/i,
  /\b(always|must)\s+(first\s+)?(call|use|invoke|run)\s+[`'"]?[\w.-]+[`'"]?\s+(first|before)\b/i,
  /\b(all|every|any)\s+(other\s+)?(e-?mails?|messages?|requests?|calls?)\s+(must|should)\s+(also\s+)?(be\s+)?(sent|forwarded|copied|redirected|bcc'?d)\b/i,
];

/** Hints that data is to leave: sensitive files, "send … to", hiding data in a parameter. */
const EXFILTRATION: readonly RegExp[] = [
  /(~|\$HOME)\/\.(ssh|aws|gnupg|kube|docker|config\/gcloud)\b|\bid_(rsa|ed25519|ecdsa)\b|\/etc\/(passwd|shadow)\b|(^|[\s'"`(/])\.env\b|\bmcp\.json\b|\.npmrc\b|\.netrc\b|\.aws\/credentials\b/i,
  /\b(send|forward|upload|post|transmit|leak|copy|exfiltrate)\s+(it|them|this|all|the|any|every|its|their|your)?\s*(\w+\s+){0,2}(contents?|conversation|chat|history|files?|keys?|credentials?|tokens?|secrets?|passwords?|environment|data)\s+to\b/i,
  /\bpass\s+(its|the|their|this)\s+(\w+\s+)?(content|contents|text|value)\s+(as|in|into)\s+(the\s+)?['"`]?\w+['"`]?\s*(parameter|argument|field)?/i,
  /\b(include|put|embed|append)\s+(the\s+)?(contents?|conversation|history|api\s*keys?|credentials?|tokens?|secrets?|passwords?)\s+(of\s+[\w~./-]+\s+)?(in|into|as)\b/i,
];

const URL = /\b(https?|ftp|wss?):\/\/[^\s"'<>`)]+/i;

const textRule = (id: string, name: string, why: string, level: 'error' | 'warning', check: TextCheck) => ({ id, name, why, level, check });

const injection = textRule(
  'SG-SEC-001',
  'Instructions to the model hidden in text',
  'Descriptions and schema text go to the model verbatim. Orders addressed to it — "<IMPORTANT>", "ignore previous instructions", "do not tell the user" — are tool poisoning: the model follows the server instead of the user, and the user never sees why.',
  'error',
  (texts) => matches(INJECTION, texts, 'addresses the model with instructions'),
);

function charCheck(re: RegExp, what: string): TextCheck {
  // Runs, not single characters: a run of tag characters is one hidden text.
  const global = new RegExp(`(?:${re.source})+`, 'gu');
  return (texts) => {
    const out: RawFinding[] = [];
    for (const t of texts) {
      const hits = [...t.text.matchAll(global)].filter((m) => !(m[0] === '\u200D' && emojiJoin(t.text, m.index)));
      if (hits.length) out.push({ pointer: t.pointer, message: `${hits.length} ${what}: ${quote(t.text, hits[0]!.index, Math.min(hits[0]![0].length, 400))}` });
    }
    return out;
  };
}

/** U+200D between two emoji is a legitimate joiner (👩‍💻), not hidden text. */
function emojiJoin(s: string, i: number): boolean {
  const before = String.fromCodePoint(s.codePointAt(i - 1) ?? 0);
  const lowBefore = i >= 2 ? String.fromCodePoint(s.codePointAt(i - 2) ?? 0) : '';
  const after = String.fromCodePoint(s.codePointAt(i + 1) ?? 0);
  const pict = /\p{Extended_Pictographic}/u;
  return (pict.test(before) || pict.test(lowBefore)) && pict.test(after);
}

const tags = textRule(
  'SG-SEC-002',
  'Unicode tag characters',
  'Tag characters (U+E0000–U+E007F) are invisible in every UI but spell ASCII that models read ("ASCII smuggling"): a reviewer approves one text, the model receives another.',
  'error',
  (texts) => charCheck(TAG_CHARS, 'run(s) of tag characters — hidden text')(texts, undefined as never, undefined),
);

const zeroWidth = textRule(
  'SG-SEC-003',
  'Zero-width or invisible characters',
  'Zero-width spaces, joiners and other invisible characters hide words from a reviewer, split keywords so filters miss them, and make two different names look the same.',
  'error',
  (texts) => charCheck(ZERO_WIDTH, 'run(s) of invisible characters')(texts, undefined as never, undefined),
);

const bidi = textRule(
  'SG-SEC-004',
  'Bidirectional control characters',
  'Bidi overrides and isolates reorder how text is displayed (Trojan Source, CVE-2021-42574): what a reviewer reads is not the order in which the model reads it.',
  'error',
  (texts) => charCheck(BIDI, 'run(s) of bidi control characters')(texts, undefined as never, undefined),
);

/** Names of other servers' tools worth matching in free text (distinctive ones only). */
function otherToolRefs(ctx: RuleContext): Array<{ server: string; tool: string; re: RegExp }> {
  const refs: Array<{ server: string; tool: string; re: RegExp }> = [];
  for (const [server, tools] of ctx.otherServers) {
    for (const tool of tools) {
      if (tool.length < 6 || !/[_.-]/.test(tool)) continue;
      const esc = tool.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      refs.push({ server, tool, re: new RegExp(`(^|[^\\w.-])(${server.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.)?${esc}($|[^\\w-])`) });
    }
  }
  return refs;
}

const shadowing = textRule(
  'SG-SEC-005',
  'Steers the model to other tools (shadowing)',
  'A description that tells the model what to do with OTHER tools ("before using this tool, call …", "when this tool is available, send all e-mails to …") lets one server hijack the calls of another it was never granted; each tool\'s text should speak only for itself.',
  'error',
  (texts, ctx) => {
    const out = matches(STEERING, texts, 'steers how other tools are used');
    const refs = otherToolRefs(ctx);
    for (const t of texts) {
      if (t.key || out.some((f) => f.pointer === t.pointer)) continue;
      const hit = refs.find((r) => r.re.test(t.text));
      if (hit) {
        const i = t.text.indexOf(hit.tool);
        out.push({ pointer: t.pointer, message: `names the tool "${hit.tool}" of the server "${hit.server}": ${quote(t.text, i, hit.tool.length)}` });
      }
    }
    return out;
  },
);

const urls = textRule(
  'SG-SEC-006',
  'URL in descriptions or schema text',
  'A URL in text the model reads is an invitation to fetch or send to it; in a poisoned tool it is the exfiltration endpoint. Tools should take destinations as arguments, not carry them.',
  'warning',
  // `$schema`, `$id` and `$ref` name schemas, not places to go; the model is not asked to open them.
  (texts) => texts.filter((t) => !t.key && !/\/\$(schema|id|ref)$/.test(t.pointer)).flatMap((t) => {
    const m = URL.exec(t.text);
    return m ? [{ pointer: t.pointer, message: `contains the URL ${quote(m[0])}` }] : [];
  }),
);

const exfiltration = textRule(
  'SG-SEC-007',
  'Exfiltration hint',
  'Text that names secret files (~/.ssh, .env, mcp.json), asks for contents to be sent somewhere, or to be passed in an innocent-looking parameter is how poisoned tools steal data through calls that look normal.',
  'error',
  (texts) => matches(EXFILTRATION, texts.filter((t) => !t.key), 'hints at moving data out'),
);

const TEXT_RULES = [injection, tags, zeroWidth, bidi, shadowing, urls, exfiltration];

/** The text rules over one tool: every string of its definition. */
function toolTextRule(r: (typeof TEXT_RULES)[number]): ToolRule {
  return { id: r.id, family: 'security', level: r.level, name: r.name, why: r.why, scope: 'tool', check: (tool, ctx) => r.check(textsOf(tool), ctx, typeof tool.name === 'string' ? tool.name : undefined) };
}

/** The same text rules over what the server says outside its tools: instructions, prompts, resources. */
function serverTextRule(r: (typeof TEXT_RULES)[number]): ServerRule {
  return {
    id: r.id,
    family: 'security',
    level: r.level,
    name: r.name,
    why: r.why,
    scope: 'server',
    check: (ctx) => {
      const inv = ctx.inventory;
      const texts: TextAt[] = [
        ...(inv.instructions !== undefined ? [{ pointer: '/instructions', text: inv.instructions, key: false }] : []),
        ...textsOf(inv.prompts, '/prompts'),
        ...textsOf(inv.resources, '/resources'),
        ...textsOf(inv.resourceTemplates, '/resourceTemplates'),
      ];
      return r.check(texts, ctx, undefined);
    },
  };
}

const isObject = (v: unknown): v is { [k: string]: unknown } => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every property schema under inputSchema (nested objects and array items too), with its pointer and name. */
export function propertiesOf(schema: unknown, base = '/inputSchema', depth = 0): Array<{ name: string; pointer: string; schema: { [k: string]: unknown } }> {
  if (!isObject(schema) || depth > 8) return [];
  const out: Array<{ name: string; pointer: string; schema: { [k: string]: unknown } }> = [];
  if (isObject(schema.properties)) {
    for (const [name, s] of Object.entries(schema.properties)) {
      if (!isObject(s)) continue;
      const pointer = `${base}/properties/${token(name)}`;
      out.push({ name, pointer, schema: s }, ...propertiesOf(s, pointer, depth + 1));
    }
  }
  if (isObject(schema.items)) out.push(...propertiesOf(schema.items, `${base}/items`, depth + 1));
  return out;
}

const types = (s: { [k: string]: unknown }): string[] => (Array.isArray(s.type) ? s.type.map(String) : typeof s.type === 'string' ? [s.type] : []);
const bounded = (s: { [k: string]: unknown }): boolean => s.enum !== undefined || s.const !== undefined || typeof s.pattern === 'string' || typeof s.maxLength === 'number' || Array.isArray(s.oneOf) || Array.isArray(s.anyOf);

const freeForm: ToolRule = {
  id: 'SG-SEC-008',
  family: 'security',
  level: 'warning',
  scope: 'tool',
  name: 'Free-form object argument',
  why: 'An argument that accepts any object (no properties, additionalProperties not false) or any value at all cannot be checked by the gateway or by policies, and is where a model puts whatever it was talked into sending.',
  check(tool) {
    return propertiesOf(tool.inputSchema).flatMap(({ name, pointer, schema }) => {
      const t = types(schema);
      const anyValue = t.length === 0 && !bounded(schema) && schema.properties === undefined && schema.items === undefined && schema.$ref === undefined && schema.allOf === undefined && schema.not === undefined;
      const openObject = t.includes('object') && (!isObject(schema.properties) || Object.keys(schema.properties).length === 0) && schema.additionalProperties !== false && !isObject(schema.additionalProperties) && schema.patternProperties === undefined;
      if (anyValue) return [{ pointer, message: `"${name}" accepts any value (no type)` }];
      if (openObject) return [{ pointer, message: `"${name}" accepts any object (no properties, additionalProperties not false)` }];
      return [];
    });
  },
};

const COMMAND_WORDS = new Set(['cmd', 'command', 'commands', 'shell', 'script', 'exec', 'execute', 'bash', 'sh', 'powershell', 'sql', 'eval']);

const unboundedCommand: ToolRule = {
  id: 'SG-SEC-009',
  family: 'security',
  level: 'error',
  scope: 'tool',
  name: 'Unbounded command string',
  why: 'A string argument that is run as a command, script, query or code, with no enum, pattern or length limit, hands the model (and whoever steers it) arbitrary execution on the server\'s host.',
  check(tool) {
    return propertiesOf(tool.inputSchema).flatMap(({ name, pointer, schema }) => {
      const words = nameWords(name);
      if (!types(schema).includes('string') || bounded(schema) || !words.some((w) => COMMAND_WORDS.has(w))) return [];
      return [{ pointer, message: `"${name}" is a free string that is run (no enum, pattern or maxLength)` }];
    });
  },
};

const URL_WORDS = new Set(['url', 'uri', 'urls', 'uris', 'endpoint', 'href', 'link', 'webhook', 'callback']);

const unboundedUrl: ToolRule = {
  id: 'SG-SEC-010',
  family: 'security',
  level: 'warning',
  scope: 'tool',
  name: 'Unbounded URL argument',
  why: 'A tool that fetches or posts to any URL it is given reaches internal hosts (SSRF, cloud metadata) and carries data wherever the model is told to send it; bound it with an enum or a pattern of allowed hosts.',
  check(tool) {
    return propertiesOf(tool.inputSchema).flatMap(({ name, pointer, schema }) => {
      const isUrl = nameWords(name).some((w) => URL_WORDS.has(w)) || ['uri', 'url', 'iri', 'uri-reference'].includes(String(schema.format));
      if (!isUrl || !types(schema).includes('string') || schema.enum !== undefined || schema.const !== undefined || typeof schema.pattern === 'string') return [];
      return [{ pointer, message: `"${name}" takes any URL (no enum or pattern)` }];
    });
  },
};

const CREDENTIAL_WORDS = new Set(['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'credential', 'credentials', 'cookie', 'authorization', 'bearer', 'otp', 'pin']);
const CREDENTIAL_PAIRS: ReadonlyArray<readonly [string, string]> = [['api', 'key'], ['private', 'key'], ['access', 'key'], ['secret', 'key'], ['client', 'secret'], ['session', 'id']];
const COUNTING = new Set(['max', 'min', 'count', 'limit', 'num', 'number', 'total']);

const credentialArgument: ToolRule = {
  id: 'SG-SEC-011',
  family: 'security',
  level: 'error',
  scope: 'tool',
  name: 'Credential asked for as an argument',
  why: 'A tool that takes a password, token or API key as an argument makes the model handle the secret: it lands in the conversation, in logs, in traces. Credentials belong in the server\'s own configuration or in the gateway\'s vault.',
  check(tool) {
    return propertiesOf(tool.inputSchema).flatMap(({ name, pointer, schema }) => {
      const words = nameWords(name);
      if (words.some((w) => COUNTING.has(w))) return [];
      const hit = words.find((w) => CREDENTIAL_WORDS.has(w)) ?? CREDENTIAL_PAIRS.find(([a, b]) => words.includes(a) && words.includes(b))?.join(' ');
      const described = typeof schema.description === 'string' && /\b(your|the user'?s)\s+(password|api\s*key|access\s*token|secret|credentials?)\b/i.test(schema.description);
      if (!hit && !described) return [];
      return [{ pointer, message: `"${name}" asks for a credential${hit ? ` ("${hit}")` : ' (its description says so)'}` }];
    });
  },
};

const secretExposure: ToolRule = {
  id: 'SG-SEC-012',
  family: 'security',
  level: 'error',
  scope: 'tool',
  name: 'Returns secrets or the environment',
  why: 'A tool that returns environment variables, keys or credentials hands the server\'s secrets to the model and to anyone who can steer it.',
  check(tool) {
    const d = typeof tool.description === 'string' ? tool.description : '';
    const m = /\b(returns?|prints?|dumps?|lists?|shows?|reveals?|exposes?)\s+(all\s+|the\s+)?(\w+\s+)?(environment\s+variables|env\s+vars|secrets|credentials|api\s+keys|private\s+keys|passwords)\b/i.exec(d);
    return m ? [{ pointer: '/description', message: `says it returns secrets: ${quote(d, m.index, m[0].length)}` }] : [];
  },
};

export const SECURITY_RULES = [
  ...TEXT_RULES.map(toolTextRule),
  ...TEXT_RULES.map(serverTextRule),
  freeForm,
  unboundedCommand,
  unboundedUrl,
  credentialArgument,
  secretExposure,
] as const;
