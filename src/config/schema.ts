/**
 * `skillgate.yaml`: one workspace's servers, users, agents, gateways and runtime settings.
 * Validated with zod at the edge; every error names its key path (see load.ts).
 */
import { z } from 'zod';

const id = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'use lowercase letters, digits and single hyphens (e.g. "core-banking")');

const stdioServer = z
  .object({
    /** Executable; `node` means the Node.js running Skillgate. */
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    /** Working directory, relative to the config file. */
    cwd: z.string().optional(),
  })
  .strict();

const httpServer = z
  .object({
    /** Streamable HTTP endpoint of the upstream MCP server. */
    url: z.url(),
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const serverSchema = z.union([stdioServer, httpServer], {
  error: () => 'a server needs either `command` (stdio) or `url` (Streamable HTTP), not both',
});

const userSchema = z
  .object({
    name: z.string().optional(),
    roles: z.array(z.string()).default([]),
    groups: z.array(z.string()).default([]),
  })
  .strict();

const durationSchema = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration like "500ms", "30s", "5m", "24h"');

export const configSchema = z
  .object({
    workspace: id,
    temporal: z
      .object({
        /** host:port of a Temporal frontend; the env var TEMPORAL_ADDRESS wins over this. */
        address: z.string().optional(),
        namespace: z.string().default('default'),
        taskQueue: z.string().default('skillgate'),
        /** The embedded dev server (used when no address is set). */
        dev: z
          .object({
            port: z.number().int().min(1).max(65535).default(7233),
            uiPort: z.number().int().min(1).max(65535).default(8233),
            /** SQLite file of the dev server, relative to the config file. */
            dbFile: z.string().default('.skillgate/temporal.db'),
          })
          .strict()
          .default({ port: 7233, uiPort: 8233, dbFile: '.skillgate/temporal.db' }),
      })
      .strict()
      .default({
        namespace: 'default',
        taskQueue: 'skillgate',
        dev: { port: 7233, uiPort: 8233, dbFile: '.skillgate/temporal.db' },
      }),
    /** Folder holding `skills/<name>/`, relative to the config file. */
    skillsDir: z.string().default('skills'),
    /** Where Skillgate keeps its state (demo data, dev server db), relative to the config file. */
    stateDir: z.string().default('.skillgate'),
    servers: z.record(id, serverSchema).default({}),
    /** Users known to this workspace (the dev IdP's demo users; approvers' roles in dev). */
    users: z.record(id, userSchema).default({}),
    /** Default per-attempt timeout of a tool step. */
    defaults: z
      .object({
        stepTimeout: durationSchema.default('30s'),
        approvalTimeout: durationSchema.default('24h'),
      })
      .strict()
      .default({ stepTimeout: '30s', approvalTimeout: '24h' }),
  })
  .strict();

export type SkillgateConfig = z.infer<typeof configSchema>;
export type ServerConfig = z.infer<typeof serverSchema>;
export type StdioServerConfig = z.infer<typeof stdioServer>;
export type HttpServerConfig = z.infer<typeof httpServer>;

export function isStdioServer(s: ServerConfig): s is StdioServerConfig {
  return 'command' in s;
}
