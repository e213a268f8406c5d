/**
 * A tiny OTLP/HTTP trace receiver for tests (JSON encoding, `POST /v1/traces`), on
 * 127.0.0.1:0: keeps every span it is sent, flattened, so that a test can rebuild the tree.
 * Only the parts of the OTLP/JSON mapping Skillgate's exporter writes are read: resource and
 * scope spans, ids as hex, attribute values of the scalar kinds, status, links.
 */
import { createServer, type Server } from 'node:http';

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  status: { code?: number; message?: string };
  links: Array<{ traceId: string; spanId: string }>;
  service: string;
  /** Start time, ns since the epoch. */
  start: bigint;
}

export interface Collector {
  /** The OTLP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`, `telemetry.otlp.endpoint`). */
  url: string;
  spans: CollectedSpan[];
  /** Requests received (method, path, content type), for checking the wire format. */
  requests: Array<{ method: string; path: string; contentType: string }>;
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value: AnyValue };

function value(v: AnyValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return JSON.stringify(v);
}

const attrs = (kvs: KeyValue[] | undefined) => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, value(kv.value)]));

export async function startCollector(): Promise<Collector> {
  const spans: CollectedSpan[] = [];
  const requests: Collector['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'] ?? '' });
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans?: Array<{ resource?: { attributes?: KeyValue[] }; scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }>;
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              traceId: String(s.traceId),
              spanId: String(s.spanId),
              parentSpanId: String(s.parentSpanId ?? ''),
              name: String(s.name),
              kind: Number(s.kind),
              attributes: attrs(s.attributes as KeyValue[] | undefined),
              status: (s.status as CollectedSpan['status'] | undefined) ?? {},
              links: ((s.links as Array<{ traceId: string; spanId: string }> | undefined) ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
              service,
              start: BigInt(String(s.startTimeUnixNano ?? '0')),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The spans of one trace as an indented tree (`name [kind]`), children in start order. */
export function treeOf(spans: CollectedSpan[], traceId: string, rootParent = ''): string {
  const inTrace = spans.filter((s) => s.traceId === traceId);
  const kinds = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
  const lines: string[] = [];
  const walk = (parent: string, depth: number) => {
    const children = inTrace.filter((x) => x.parentSpanId === parent).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const s of children) {
      lines.push(`${'  '.repeat(depth)}${s.name} [${kinds[s.kind] ?? s.kind}]`);
      walk(s.spanId, depth + 1);
    }
  };
  walk(rootParent, 0);
  return lines.join('\n');
}
