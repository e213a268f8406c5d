/**
 * The report a person reads: one self-contained page per server — grade, what to look at
 * first, every tool with its findings and why they matter, the server's own text, resources
 * and prompts. Everything the server sent is escaped and its hidden characters are shown
 * (`⟨U+200B⟩`, `⟨tags: "…"⟩`); the page runs no script (its CSP forbids any).
 */
import { RULE_INFO } from '../rules/index.js';
import type { Finding, Level } from '../rules/types.js';
import type { CurationReport, Grade, ToolReport } from '../score.js';
import { showHidden } from '../text.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Server text: hidden characters made visible, then escaped. */
const shown = (s: string): string => esc(showHidden(s));

const LEVEL_LABEL: Record<Level, string> = { error: 'error', warning: 'warning', note: 'note' };
const GRADE_TEXT: Record<Grade, string> = {
  A: 'ready to approve',
  B: 'approve; small improvements possible',
  C: 'approve with care; the model will sometimes misuse it',
  D: 'poorly described; expect failed or wrong calls',
  F: 'do not approve without a close look',
};

function badge(g: Grade, big = false): string {
  return `<span class="grade g${g}${big ? ' big' : ''}" title="${esc(GRADE_TEXT[g])}">${g}</span>`;
}

function findingRow(f: Finding): string {
  const rule = RULE_INFO.get(f.ruleId);
  return `<li class="finding ${f.level}">
  <div class="fhead"><span class="lvl ${f.level}">${LEVEL_LABEL[f.level]}</span> <code class="rid">${esc(f.ruleId)}</code> <strong>${esc(rule?.name ?? '')}</strong> <code class="ptr">${esc(f.pointer || '/')}</code></div>
  <div class="fmsg">${shown(f.message)}</div>
  <div class="why">Why it matters: ${esc(rule?.why ?? '')}</div>
</li>`;
}

function counts(findings: readonly Finding[]): string {
  const n = { error: 0, warning: 0, note: 0 };
  for (const f of findings) n[f.level]++;
  return (['error', 'warning', 'note'] as const).map((l) => (n[l] ? `<span class="lvl ${l}">${n[l]} ${l}${n[l] === 1 ? '' : 's'}</span>` : '')).join(' ') || '<span class="ok">no findings</span>';
}

function toolSection(server: string, t: ToolReport): string {
  const ann = (t.definition.annotations ?? {}) as Record<string, unknown>;
  const hints = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'].filter((k) => k in ann).map((k) => `${k}: ${String(ann[k])}`);
  return `<details class="tool" id="tool-${esc(t.name)}"${t.findings.some((f) => f.level !== 'note') ? ' open' : ''}>
<summary>${badge(t.grade)} <code>${esc(server)}.${shown(t.name)}</code>${t.title ? ` — ${shown(t.title)}` : ''} <span class="score">${t.score}/100</span> ${counts(t.findings)}</summary>
<div class="body">
  <p class="desc">${t.description !== undefined ? shown(t.description).replace(/\n/g, '<br>') : '<em>no description</em>'}</p>
  <p class="meta">${hints.length ? `annotations: ${esc(hints.join(', '))}` : 'no annotations'}${t.hash ? ` · pin <code>${esc(t.hash.slice(0, 19))}…</code>` : ''}</p>
  ${t.findings.length ? `<ul class="findings">${t.findings.map(findingRow).join('\n')}</ul>` : ''}
  <details class="raw"><summary>definition as sent</summary><pre>${shown(JSON.stringify(t.definition, null, 2))}</pre></details>
</div>
</details>`;
}

const CSS = `
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0 0 4px;font-size:26px} h2{margin-top:32px;font-size:19px;border-bottom:1px solid #dde1e7;padding-bottom:4px}
.sub{color:#5b6475;margin:0 0 16px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:16px 20px;margin:12px 0}
.summary{display:flex;gap:24px;align-items:center}
.grade{display:inline-block;min-width:1.6em;text-align:center;font-weight:700;border-radius:5px;padding:0 6px;color:#fff}
.grade.big{font-size:44px;min-width:1.4em;border-radius:10px;padding:4px 14px}
.gA{background:#1f883d}.gB{background:#4c9a2a}.gC{background:#bf8700}.gD{background:#d4671c}.gF{background:#cf222e}
.lvl{font-size:12px;font-weight:600;padding:1px 6px;border-radius:4px;text-transform:uppercase;letter-spacing:.03em}
.lvl.error{background:#ffebe9;color:#a40e26}.lvl.warning{background:#fff8c5;color:#7d4e00}.lvl.note{background:#ddf4ff;color:#0a3069}
.ok{color:#1f883d;font-size:13px}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceef2;vertical-align:top} th{font-size:13px;color:#5b6475}
details.tool{background:#fff;border:1px solid #dde1e7;border-radius:8px;margin:10px 0}
details.tool>summary{padding:10px 14px;cursor:pointer;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.score{color:#5b6475;font-size:13px}
.body{padding:0 16px 12px}
.desc{white-space:normal;background:#f6f8fa;border-radius:6px;padding:8px 10px}
.meta{color:#5b6475;font-size:13px}
ul.findings{list-style:none;padding:0;margin:0}
li.finding{border-left:4px solid #ccc;padding:6px 10px;margin:8px 0;background:#fbfbfc}
li.finding.error{border-color:#cf222e}li.finding.warning{border-color:#bf8700}li.finding.note{border-color:#0969da}
.fmsg{margin:2px 0;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px;word-break:break-word}
.why{color:#5b6475;font-size:13px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
.rid{font-weight:600}.ptr{color:#6e7781}
pre{background:#f6f8fa;padding:10px;border-radius:6px;overflow:auto;font-size:12px;max-height:420px}
.muted{color:#5b6475}
`;

/** `skillgate curate --html <file>`: one page for one server. */
export function renderHtml(report: CurationReport): string {
  const all = [...report.serverFindings, ...report.tools.flatMap((t) => t.findings)];
  const id = report.identity;
  const launch = id.url ? esc(id.url) : id.command ? `<code>${esc([id.command, ...(id.args ?? [])].join(' '))}</code>` : '';
  const worst = report.tools.filter((t) => t.findings.some((f) => f.level === 'error')).map((t) => t.name);
  const used = [...new Set(all.map((f) => f.ruleId))].sort();
  const inv = report.inventory;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Curation report — ${esc(report.server)} (grade ${report.grade})</title>
<style>${CSS}</style></head>
<body><main>
<h1>Curation report: ${esc(report.server)}</h1>
<p class="sub">${shown(id.title ?? id.name)} ${esc(id.version)} · ${launch} · scored ${esc(report.generatedAt)} by <code>skillgate curate</code></p>

<div class="card summary">
  <div>${badge(report.grade, true)}</div>
  <div>
    <div><strong>${esc(GRADE_TEXT[report.grade])}</strong> — score ${report.score}/100</div>
    <div>${report.tools.length} tool${report.tools.length === 1 ? '' : 's'}, ${inv.resources.length} resource${inv.resources.length === 1 ? '' : 's'}, ${inv.resourceTemplates.length} resource template${inv.resourceTemplates.length === 1 ? '' : 's'}, ${inv.prompts.length} prompt${inv.prompts.length === 1 ? '' : 's'}</div>
    <div>${counts(all)}</div>
    ${worst.length ? `<div>Look first at: ${worst.map((n) => `<a href="#tool-${esc(n)}"><code>${shown(n)}</code></a>`).join(', ')}</div>` : ''}
  </div>
</div>

<h2>Tools</h2>
<table><thead><tr><th>grade</th><th>tool</th><th>findings</th><th>read-only</th><th>destructive</th></tr></thead><tbody>
${report.tools
  .map((t) => {
    const a = (t.definition.annotations ?? {}) as Record<string, unknown>;
    return `<tr><td>${badge(t.grade)} <span class="score">${t.score}</span></td><td><a href="#tool-${esc(t.name)}"><code>${shown(t.name)}</code></a>${t.title ? `<br><span class="muted">${shown(t.title)}</span>` : ''}</td><td>${counts(t.findings)}</td><td>${a.readOnlyHint === true ? 'yes' : a.readOnlyHint === false ? 'no' : '?'}</td><td>${a.destructiveHint === true ? 'yes' : a.destructiveHint === false ? 'no' : '?'}</td></tr>`;
  })
  .join('\n')}
</tbody></table>
${report.tools.map((t) => toolSection(report.server, t)).join('\n')}

<h2>The server itself</h2>
${report.serverFindings.length ? `<ul class="findings">${report.serverFindings.map(findingRow).join('\n')}</ul>` : '<p class="ok">No findings about the server\'s own text or tool list.</p>'}
<div class="card"><strong>Instructions</strong> (sent to the model when a client passes them on)
${inv.instructions !== undefined ? `<pre>${shown(inv.instructions)}</pre>` : '<p class="muted">none</p>'}</div>
<div class="card"><strong>Resources</strong>
${inv.resources.length ? `<table><tbody>${inv.resources.map((r) => `<tr><td><code>${shown(r.uri ?? '')}</code></td><td>${shown(r.name ?? '')}</td><td>${shown(r.description ?? '')}</td></tr>`).join('')}</tbody></table>` : '<p class="muted">none</p>'}
${inv.resourceTemplates.length ? `<strong>Resource templates</strong><table><tbody>${inv.resourceTemplates.map((r) => `<tr><td><code>${shown(r.uriTemplate ?? '')}</code></td><td>${shown(r.name ?? '')}</td><td>${shown(r.description ?? '')}</td></tr>`).join('')}</tbody></table>` : ''}</div>
<div class="card"><strong>Prompts</strong>
${inv.prompts.length ? `<table><tbody>${inv.prompts.map((p) => `<tr><td><code>${shown(p.name ?? '')}</code></td><td>${shown(p.description ?? '')}</td><td class="muted">${Array.isArray(p.arguments) ? `arguments: ${shown((p.arguments as Array<{ name?: unknown }>).map((a) => String(a.name)).join(', '))}` : ''}</td></tr>`).join('')}</tbody></table>` : '<p class="muted">none</p>'}</div>
${inv.errors.length ? `<div class="card"><strong>Could not be listed</strong><ul>${inv.errors.map((e) => `<li>${shown(e)}</li>`).join('')}</ul></div>` : ''}
${report.probed.length ? `<p class="muted">Called with their documented example (read-only tools): ${report.probed.map((n) => `<code>${shown(n)}</code>`).join(', ')}.</p>` : ''}

<h2>How grades are made</h2>
<p>Each tool starts at 100 and loses 35 per error, 10 per warning and 2 per note (notes at most 10 in all); A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, else F. Any security error makes a tool F. The server's score is the mean of its tools' less its own findings; any security error in the server makes it F. Approving a tool with an error needs <code>--accept-risk</code>.</p>
${used.length ? `<h2>Rules found here</h2><table><tbody>${used.map((rid) => {
    const r = RULE_INFO.get(rid)!;
    return `<tr><td><code class="rid">${esc(r.id)}</code></td><td><span class="lvl ${r.level}">${r.level}</span></td><td><strong>${esc(r.name)}</strong><br><span class="muted">${esc(r.why)}</span></td></tr>`;
  }).join('')}</tbody></table>` : ''}
</main></body></html>
`;
}
