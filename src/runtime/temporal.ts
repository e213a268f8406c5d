/**
 * Connects Skillgate to Temporal: an existing cluster (TEMPORAL_ADDRESS / config), or an
 * embedded dev server (the Temporal CLI's `server start-dev`) with a SQLite file, the UI and
 * Skillgate's search attributes registered.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../workflows/definitions.js';
import { resolveTemporalExecutable, type TemporalExecutable } from './temporal-binary.js';

export interface TemporalRuntime {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  /** Web UI base URL when known (embedded server). */
  uiUrl?: string;
  /** True when Skillgate started the server itself. */
  embedded: boolean;
  executable?: TemporalExecutable;
  connection: Connection;
  nativeConnection: NativeConnection;
  client: Client;
  /** Closes connections; stops the embedded server. */
  close(): Promise<void>;
}

export interface EmbeddedServerOptions {
  /** gRPC port; 0 picks a free one. */
  port: number;
  /** Web UI port; undefined disables the UI. */
  uiPort?: number;
  /** SQLite file; undefined keeps everything in memory. */
  dbFile?: string;
  namespace?: string;
}

/** The Keyword search attributes every skill run carries. */
export const searchAttributeKeys = SEARCH_ATTRIBUTES.map((name) => defineSearchAttributeKey(name, 'KEYWORD'));

/** Start the embedded dev server. */
export async function startEmbeddedTemporal(opts: EmbeddedServerOptions): Promise<TemporalRuntime> {
  const executable = resolveTemporalExecutable();
  if (opts.dbFile) mkdirSync(dirname(opts.dbFile), { recursive: true });
  const namespace = opts.namespace ?? 'default';
  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable:
          executable.type === 'existing-path'
            ? { type: 'existing-path', path: executable.path }
            : { type: 'cached-download' },
        ip: '127.0.0.1',
        ...(opts.port ? { port: opts.port } : {}),
        ...(opts.uiPort ? { ui: true, uiPort: opts.uiPort } : { ui: false }),
        ...(opts.dbFile ? { dbFilename: opts.dbFile } : {}),
        namespace,
        searchAttributes: searchAttributeKeys,
        log: { format: 'pretty', level: 'error' },
      },
    });
  } catch (err) {
    throw new Error(
      `could not start the Temporal dev server (${describeExecutable(executable)}): ${(err as Error).message}` +
        (opts.port ? `\n  is port ${opts.port} already in use? Set temporal.dev.port in skillgate.yaml, or TEMPORAL_ADDRESS to use a running server.` : ''),
      { cause: err },
    );
  }
  const address = env.connection.options.address;
  return {
    address,
    namespace,
    uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : undefined,
    embedded: true,
    executable,
    connection: env.connection,
    nativeConnection: env.nativeConnection,
    client: new Client({ connection: env.connection, namespace }),
    close: () => env.teardown(),
  };
}

/** Connect to a running Temporal frontend and make sure the search attributes exist. */
export async function connectTemporal(address: string, namespace = 'default', uiUrl?: string): Promise<TemporalRuntime> {
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  await ensureSearchAttributes(connection, namespace);
  return {
    address,
    namespace,
    uiUrl,
    embedded: false,
    connection,
    nativeConnection,
    client: new Client({ connection, namespace }),
    close: async () => {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

/** Register the missing Skillgate search attributes (Keyword) in `namespace`. Idempotent. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((n) => !(n in existing.customAttributes));
  if (missing.length === 0) return [];
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const n of missing) searchAttributes[n] = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (err) {
    throw new Error(
      `could not register search attributes ${missing.join(', ')} in namespace "${namespace}": ${(err as Error).message}` +
        '\n  register them once with `temporal operator search-attribute create --name <N> --type Keyword`',
      { cause: err },
    );
  }
  return missing;
}

export function describeExecutable(e: TemporalExecutable): string {
  return e.type === 'existing-path' ? `${e.path} (from ${e.source})` : 'SDK download of the Temporal CLI';
}
