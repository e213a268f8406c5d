/**
 * Front-door checks of a `tools/call` request, before the MCP server, Cedar or an upstream
 * server sees it (the MCP SDK's own schema check answers with a raw validation dump; Cedar's
 * JSON parser chokes on lone surrogates; deep nesting reaches upstream servers as
 * "unavailable"). Each refusal is -32602 with a short message naming what is wrong and where.
 */
import type { JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import type { InspectRefusal } from './http-transport.js';

/** JSON-RPC "Invalid params". */
const INVALID_PARAMS = -32602;
/** Longest tool name accepted (`<server>.<tool>`; MCP names are at most 128 characters each). */
const MAX_NAME = 300;

/** How much of a client-supplied name a message repeats. */
export function echo(name: string, max = 64): string {
  return name.length > max ? `${name.slice(0, max)}…` : name;
}

function refuse(refusal: string, message: string, detail?: string): InspectRefusal {
  return { code: INVALID_PARAMS, message, refusal, ...(detail ? { detail } : {}) };
}

function keyPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? (parent ? `${parent}.${key}` : key) : `${parent}[${JSON.stringify(key.slice(0, 40))}]`;
}

/**
 * The checker for one front door.
 *
 * @example inspectToolCall({ argumentDepth: 32 })({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 7 } })
 * // → { code: -32602, message: 'tools/call: `name` must be a string', refusal: 'ERR_TOOL_NAME' }
 */
export function inspectToolCall(limits: { argumentDepth: number }): (req: JSONRPCRequest) => InspectRefusal | undefined {
  return (req) => {
    if (req.method !== 'tools/call') return undefined;
    const params = req.params as { name?: unknown; arguments?: unknown } | undefined;
    if (params === undefined || params === null || typeof params !== 'object' || Array.isArray(params)) {
      return refuse('ERR_TOOL_PARAMS', 'tools/call: `params` must be an object with `name` and `arguments`');
    }
    const { name, arguments: args } = params;
    if (typeof name !== 'string' || name === '') return refuse('ERR_TOOL_NAME', 'tools/call: `name` must be a non-empty string');
    if (name.length > MAX_NAME) return refuse('ERR_TOOL_NAME', `tools/call: \`name\` is longer than ${MAX_NAME} characters`);
    if (!name.isWellFormed()) return refuse('ERR_TOOL_NAME', 'tools/call: `name` is not well-formed Unicode (lone surrogate)');
    if (args === undefined) return undefined;
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      return refuse('ERR_TOOL_ARGUMENTS', `tools/call ${echo(name)}: \`arguments\` must be an object`);
    }
    // Iterative: a 5,000-deep value must not cost a stack frame per level.
    const stack: Array<[value: unknown, path: string, depth: number]> = [[args, '', 1]];
    while (stack.length) {
      const [value, path, depth] = stack.pop()!;
      if (typeof value === 'string') {
        if (!value.isWellFormed()) return refuse('ERR_ARGUMENT_UNICODE', `tools/call ${echo(name)}: argument \`${path}\` is not well-formed Unicode (lone surrogate)`);
        continue;
      }
      if (value === null || typeof value !== 'object') continue;
      if (depth > limits.argumentDepth) {
        return refuse('ERR_ARGUMENTS_TOO_DEEP', `tools/call ${echo(name)}: arguments are nested more than ${limits.argumentDepth} levels deep (at \`${path}\`)`);
      }
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], keyPath(path, i), depth + 1]);
      } else {
        for (const [k, v] of Object.entries(value)) {
          if (!k.isWellFormed()) return refuse('ERR_ARGUMENT_UNICODE', `tools/call ${echo(name)}: an argument name under \`${path || '(top)'}\` is not well-formed Unicode (lone surrogate)`);
          stack.push([v, keyPath(path, k), depth + 1]);
        }
      }
    }
    return undefined;
  };
}
