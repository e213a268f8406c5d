/**
 * An in-memory UpstreamPool for unit tests: the methods a test gives, and every other one
 * rejecting with "not used by this test" (so a test that starts relying on one fails loudly).
 */
import type { UpstreamPool } from '../../gateway/upstream/types.js';

export function poolOf(methods: Partial<UpstreamPool> & Pick<UpstreamPool, 'servers'>): UpstreamPool {
  const unused = (name: string) => () => Promise.reject(new Error(`UpstreamPool.${name} is not used by this test`));
  return {
    describe: unused('describe'),
    listTools: unused('listTools'),
    callTool: unused('callTool'),
    listResources: unused('listResources'),
    listResourceTemplates: unused('listResourceTemplates'),
    readResource: unused('readResource'),
    listPrompts: unused('listPrompts'),
    getPrompt: unused('getPrompt'),
    complete: unused('complete'),
    serverInfo: unused('serverInfo'),
    inventory: unused('inventory'),
    onToolListChanged: () => () => {},
    url: unused('url'),
    onListChanged: () => () => {},
    close: async () => {},
    ...methods,
  };
}
