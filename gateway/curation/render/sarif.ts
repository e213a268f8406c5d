/**
 * SARIF 2.1.0 (OASIS, errata 01): one run per server, every rule in the driver, every finding a
 * result located by its tool (a logical location `server/tool`) and a JSON Pointer into the
 * tool's definition (`properties.jsonPointer`). Fingerprints are stable across runs so that a
 * baseline survives re-scans: rule, server, tool, pointer.
 */
import { createHash } from 'node:crypto';
import { RULE_INFO } from '../rules/index.js';
import type { Finding } from '../rules/types.js';
import type { CurationReport } from '../score.js';

export const SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

/** `SG-SEC-001` → a PascalCase rule name from its title. */
function ruleName(title: string): string {
  return title
    .replace(/\(.*?\)/g, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

function fingerprint(server: string, f: Finding): string {
  return createHash('sha256').update(`${f.ruleId}\u0000${server}\u0000${f.tool ?? ''}\u0000${f.pointer}`).digest('hex').slice(0, 32);
}

/** `skillgate curate --sarif`. */
export function renderSarif(reports: readonly CurationReport[], version = '0.1.0'): string {
  const rules = [...RULE_INFO.values()];
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const doc = {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: reports.map((report) => ({
      tool: {
        driver: {
          name: 'skillgate curate',
          version,
          rules: rules.map((r) => ({
            id: r.id,
            name: ruleName(r.name),
            shortDescription: { text: r.name },
            fullDescription: { text: r.why },
            help: { text: r.why },
            defaultConfiguration: { level: r.level },
            properties: { tags: [r.family] },
          })),
        },
      },
      automationDetails: { id: `skillgate-curate/${report.server}/` },
      results: [...report.serverFindings, ...report.tools.flatMap((t) => t.findings)].map((f) => ({
        ruleId: f.ruleId,
        ruleIndex: index.get(f.ruleId) ?? 0,
        level: f.level,
        message: { text: f.tool ? `${f.tool}: ${f.message}` : `${report.server}: ${f.message}` },
        locations: [
          {
            logicalLocations: [
              f.tool
                ? { name: f.tool, fullyQualifiedName: `${report.server}/${f.tool}`, kind: 'function' }
                : { name: report.server, fullyQualifiedName: report.server, kind: 'module' },
            ],
            properties: { jsonPointer: f.pointer },
          },
        ],
        partialFingerprints: { 'skillgateFinding/v1': fingerprint(report.server, f) },
      })),
      properties: {
        server: report.server,
        identity: report.identity,
        grade: report.grade,
        score: report.score,
        tools: report.tools.map((t) => ({ name: t.name, grade: t.grade, score: t.score, ...(t.hash ? { hash: t.hash } : {}) })),
      },
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
