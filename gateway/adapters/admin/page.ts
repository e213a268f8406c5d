/**
 * The admin page's HTML, rendered on the server: no script, no framework, one stylesheet
 * (`/admin/admin.css`). Every value that comes from an event or a request is escaped.
 */
import type { AuditEvent } from '../../../src/contracts/audit.js';
import type { Json } from '../../../src/contracts/json.js';
import type { ChainStatus } from '../../audit/monitor.js';

/** HTML-escape text for element content and quoted attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What the page knows about the person looking and the workspace. */
export interface PageContext {
  workspace: string;
  user: { id: string; roles: string[] };
  /** The Temporal UI's base URL and namespace (links to runs), when known. */
  temporal?: { ui: string; namespace: string };
  chain: ChainStatus;
  /** Values for the filter lists. */
  known: { users: string[]; agents: string[]; gateways: string[]; tools: string[]; skills: string[] };
}

/** The filter form's values, as the query string carries them. */
export type Filters = Partial<Record<'user' | 'agent' | 'gateway' | 'tool' | 'skill' | 'decision' | 'kind' | 'since' | 'until' | 'run' | 'request' | 'before', string>>;

const KINDS = ['decision', 'tool.call', 'token.refused', 'request.refused', 'run.started', 'run.approval', 'run.compensation', 'run.ended', 'policy.loaded', 'config.loaded', 'admin.action', 'audit.gap'];

function layout(ctx: PageContext, title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Skillgate audit</title><link rel="stylesheet" href="/admin/admin.css"></head>
<body><header><a class="brand" href="/admin">Skillgate <span>audit trail</span></a><span class="ws">workspace <b>${esc(ctx.workspace)}</b></span>
<form class="who" method="post" action="/admin/logout"><span>${esc(ctx.user.id)} <small>${esc(ctx.user.roles.join(', '))}</small></span><button type="submit">Sign out</button></form></header>
${chainBanner(ctx.chain)}
<main>${body}</main></body></html>`;
}

function chainBanner(c: ChainStatus): string {
  const verifyButton = `<form method="post" action="/admin/verify"><button type="submit"${c.running ? ' disabled' : ''}>${c.running ? 'Verifying…' : 'Verify now'}</button></form>`;
  if (c.error) return `<section class="chain bad" id="chain"><span><b>Chain not verified:</b> ${esc(c.error)}</span> ${verifyButton}</section>`;
  const r = c.report;
  if (!r) return `<section class="chain pending" id="chain"><span>Verifying the chain…</span> ${verifyButton}</section>`;
  const at = (t: string) => esc(t.replace('T', ' ').slice(0, 19));
  const when = c.fullAt ? ` Whole chain checked ${at(c.fullAt)} UTC (${c.fullMs} ms)${c.checkedAt && c.checkedAt !== c.fullAt ? `, newest events ${at(c.checkedAt)}` : ''}.` : '';
  if (!r.ok) {
    const i = r.issue!;
    return `<section class="chain bad" id="chain"><span><b>✗ Chain broken at event <a href="/admin/events/${i.seq}">#${i.seq}</a></b>${i.checkpoint !== undefined ? ` (checkpoint ${i.checkpoint})` : ''}: ${esc(i.message)}.${when}</span> ${verifyButton}</section>`;
  }
  const cp = r.lastCheckpoint ? `last signed checkpoint #${r.lastCheckpoint.n} over event ${r.lastCheckpoint.seq} (key <code>${esc(r.lastCheckpoint.keyId.slice(0, 12))}…</code>)` : 'no signed checkpoint yet';
  const tail = r.unsigned ? `; ${r.unsigned} newer event${r.unsigned === 1 ? '' : 's'} chained, not yet signed` : '';
  return `<section class="chain ok" id="chain"><span><b>✓ Chain verified:</b> ${r.events.toLocaleString('en')} events, ${r.checkpoints} checkpoints; ${cp}${tail}.${when}</span> ${verifyButton}</section>`;
}

function options(values: string[], selected: string | undefined, any = 'any'): string {
  const list = selected && !values.includes(selected) ? [selected, ...values] : values;
  return `<option value="">${any}</option>${list.map((v) => `<option${v === selected ? ' selected' : ''}>${esc(v)}</option>`).join('')}`;
}

function filterForm(ctx: PageContext, f: Filters): string {
  const input = (name: keyof Filters, label: string, list?: string, placeholder = '') =>
    `<label>${label}<input name="${name}" value="${esc(f[name])}"${list ? ` list="${list}"` : ''}${placeholder ? ` placeholder="${esc(placeholder)}"` : ''} autocomplete="off"></label>`;
  const datalist = (id: string, values: string[]) => `<datalist id="${id}">${values.map((v) => `<option value="${esc(v)}">`).join('')}</datalist>`;
  return `<form class="filters" method="get" action="/admin">
${input('user', 'User', 'users')}${input('agent', 'Agent', 'agents')}
<label>Gateway<select name="gateway">${options(ctx.known.gateways, f.gateway)}</select></label>
${input('tool', 'Tool', 'tools', 'server.tool')}${input('skill', 'Skill', 'skills')}
<label>Decision<select name="decision">${options(['allow', 'deny'], f.decision)}</select></label>
<label>Kind<select name="kind">${options(KINDS, f.kind)}</select></label>
${input('since', 'Since', undefined, '1h, 7d or 2026-01-31T09:00')}${input('until', 'Until', undefined, 'same forms')}
${input('run', 'Run', undefined, 'workflow id')}
<div class="actions"><button type="submit">Filter</button><a href="/admin">Clear</a></div>
${datalist('users', ctx.known.users)}${datalist('agents', ctx.known.agents)}${datalist('tools', ctx.known.tools)}${datalist('skills', ctx.known.skills)}
</form>`;
}

function target(e: AuditEvent): string {
  const tool = e.tool ? (e.server ? `${e.server}.${e.tool}` : e.tool) : '';
  const skill = e.skill ? `${e.skill}${e.step ? ` / ${e.step}` : ''}` : '';
  return [tool && `<code>${esc(tool)}</code>`, skill && `<span class="skill">${esc(skill)}</span>`].filter(Boolean).join(' ');
}

function outcomeBadge(o: string): string {
  return `<span class="outcome ${esc(o)}">${esc(o)}</span>`;
}

function query(f: Filters, change: Filters): string {
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...f, ...change })) if (v) merged[k] = v;
  const qs = new URLSearchParams(merged).toString();
  return qs ? `/admin?${qs}` : '/admin';
}

/** The list: filters, counts, one row per event (newest first), paging. */
export function eventsPage(ctx: PageContext, f: Filters, page: { events: AuditEvent[]; next?: number; total: number }, error?: string): string {
  const runHeader = f.run
    ? `<section class="run">Events of run <code>${esc(f.run)}</code>${ctx.temporal ? ` — <a class="temporal" href="${esc(runUrl(ctx, f.run))}">open in the Temporal UI ↗</a>` : ''}</section>`
    : '';
  const rows = page.events
    .map(
      (e) => `<tr class="${e.outcome === 'deny' ? 'deny' : e.outcome === 'error' ? 'error' : ''}">
<td class="time"><a href="/admin/events/${e.seq}" title="${esc(e.time)}">${esc(e.time.slice(5, 10))} ${esc(e.time.slice(11, 23))}</a></td><td class="seq">${e.seq}</td>
<td>${esc(e.kind)}</td><td>${outcomeBadge(e.outcome)}</td><td>${esc(e.user)}</td><td>${esc(e.agent)}</td><td>${esc(e.gateway)}</td>
<td class="target">${target(e)}</td><td class="reason">${esc(e.reason)}${e.outcome === 'deny' && e.decision?.agent && e.decision.user ? ` <small>agent ${esc(e.decision.agent.decision)} · user ${esc(e.decision.user.decision)}</small>` : ''}</td>
<td class="num">${e.latencyMs !== undefined ? `${esc(e.latencyMs)} ms` : ''}</td>
<td>${e.ids?.workflowId ? `<a href="${esc(query({}, { run: e.ids.workflowId }))}" title="${esc(e.ids.workflowId)}">run</a>` : ''}</td></tr>`,
    )
    .join('\n');
  const newest = f.before ? `<a href="${esc(query(f, { before: '' }))}">↑ Newest</a>` : '';
  const older = page.next !== undefined ? `<a href="${esc(query(f, { before: String(page.next) }))}" rel="next">Older ↓</a>` : '';
  const body = `${filterForm(ctx, f)}
${error ? `<p class="problem">${esc(error)}</p>` : ''}${runHeader}
<p class="count">${page.total.toLocaleString('en')} event${page.total === 1 ? '' : 's'} match${f.before ? `; older than #${esc(f.before)}` : ''}; showing ${page.events.length}.</p>
<table class="events"><thead><tr><th>Time (UTC)</th><th>#</th><th>Kind</th><th>Outcome</th><th>User</th><th>Agent</th><th>Gateway</th><th>Tool / skill</th><th>Reason</th><th>Latency</th><th>Run</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="11" class="empty">No events match.</td></tr>'}
</tbody></table>
<nav class="pager">${newest}${older}</nav>`;
  return layout(ctx, 'Events', body);
}

function runUrl(ctx: PageContext, workflowId: string, runId?: string): string {
  const t = ctx.temporal!;
  return `${t.ui}/namespaces/${encodeURIComponent(t.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${encodeURIComponent(runId)}` : ''}`;
}

function json(v: Json | undefined): string {
  return `<pre>${esc(JSON.stringify(v, null, 2))}</pre>`;
}

/** One event: who, what, the decision with both sides and the deciding policies, arguments, ids, chain. */
export function eventPage(ctx: PageContext, e: AuditEvent): string {
  const row = (k: string, v: string) => (v ? `<tr><th>${k}</th><td>${v}</td></tr>` : '');
  const d = e.decision;
  const side = (name: 'agent' | 'user') => {
    const s = d?.[name];
    if (!s) return '';
    return `<tr class="${s.decision}"><th>${name === 'agent' ? `Agent <b>${esc(e.agent)}</b>` : `User <b>${esc(e.user)}</b>`}</th><td>${outcomeBadge(s.decision)}</td><td>${esc(s.basis ?? '')}</td><td>${s.policies.length ? s.policies.map((p) => `<code>${esc(p)}</code>`).join('<br>') : '<i>no policy matched</i>'}</td></tr>`;
  };
  const decision = d
    ? `<h2>Decision</h2><table class="kv">${row('Stage', esc(d.stage))}${row('Action', d.action ? `<code>${esc(d.action)}</code>` : '')}${row('Policy revision', d.policyRevision ? `<code>${esc(d.policyRevision)}</code>` : '')}</table>
${d.agent || d.user ? `<table class="sides"><thead><tr><th>Side</th><th>Decision</th><th>Basis</th><th>Deciding policies</th></tr></thead><tbody>${side('agent')}${side('user')}</tbody></table>` : ''}`
    : '';
  const ids = e.ids ?? {};
  const idRows = [
    row('Request', ids.requestId ? `<a href="${esc(query({}, { request: ids.requestId }))}"><code>${esc(ids.requestId)}</code></a>` : ''),
    row('Session', ids.sessionId ? `<code>${esc(ids.sessionId)}</code>` : ''),
    row('Trace', ids.traceId ? `<code>${esc(ids.traceId)}</code>` : ''),
    row('Decision', ids.decisionId ? `<code>${esc(ids.decisionId)}</code>` : ''),
    row(
      'Run',
      ids.workflowId
        ? `<a href="${esc(query({}, { run: ids.workflowId }))}">all events of run <code>${esc(ids.workflowId)}</code></a>${ctx.temporal ? ` · <a class="temporal" href="${esc(runUrl(ctx, ids.workflowId, ids.runId))}">Temporal UI ↗</a>` : ''}`
        : '',
    ),
    row('Run id', ids.runId ? `<code>${esc(ids.runId)}</code>` : ''),
    row('Activity', ids.activityId ? `<code>${esc(ids.activityId)}</code>` : ''),
  ].join('');
  const body = `<p class="back"><a href="/admin">← Events</a></p>
<h1>#${e.seq} ${esc(e.kind)} ${outcomeBadge(e.outcome)} <small>${esc(e.reason)}</small></h1>
<table class="kv">${row('Time', esc(e.time))}${row('Workspace', esc(e.workspace))}${row('Gateway', esc(e.gateway))}${row('User', esc(e.user))}${row('Agent', esc(e.agent))}
${row('Tool', e.tool ? `<code>${esc(e.server ? `${e.server}.${e.tool}` : e.tool)}</code>` : '')}${row('Skill', esc(e.skill))}${row('Step', esc(e.step))}${row('Latency', e.latencyMs !== undefined ? `${esc(e.latencyMs)} ms` : '')}</table>
${decision}
${e.args ? `<h2>Arguments</h2><table class="kv">${row('SHA-256', `<code>${esc(e.args.digest)}</code>`)}</table>${e.args.masked !== undefined ? json(e.args.masked) : ''}` : ''}
${idRows ? `<h2>Correlation</h2><table class="kv">${idRows}</table>` : ''}
${e.detail ? `<h2>Detail</h2>${json(e.detail)}` : ''}
<h2>Chain</h2><table class="kv">${row('Sequence', String(e.seq))}${row('Previous hash', `<code>${esc(e.prevHash)}</code>`)}${row('Hash', `<code>${esc(e.hash)}</code>`)}</table>`;
  return layout(ctx, `Event ${e.seq}`, body);
}

/** A page for someone who is not (or no longer) allowed in. */
export function messagePage(title: string, html: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · Skillgate audit</title><link rel="stylesheet" href="/admin/admin.css"></head>
<body><header><a class="brand" href="/admin">Skillgate <span>audit trail</span></a></header><main class="message"><h1>${esc(title)}</h1>${html}</main></body></html>`;
}

/** The stylesheet (served as /admin/admin.css: the CSP allows no inline style). */
export const STYLESHEET = `
:root { --ink:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --ok:#067647; --okbg:#ecfdf3; --bad:#b42318; --badbg:#fef3f2; --warn:#b54708; --accent:#3538cd; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
header { display:flex; gap:24px; align-items:center; padding:10px 24px; background:#101828; color:#fff; }
header a { color:#fff; text-decoration:none; } .brand { font-weight:700; font-size:16px; } .brand span { font-weight:400; color:#98a2b3; }
.ws { color:#d0d5dd; } .who { margin-left:auto; display:flex; gap:10px; align-items:center; } .who small { color:#98a2b3; }
.who button { background:transparent; color:#d0d5dd; border:1px solid #475467; border-radius:6px; padding:3px 10px; cursor:pointer; }
.chain { padding:8px 24px; border-bottom:1px solid var(--line); display:flex; gap:16px; align-items:center; }
.chain form { margin-left:auto; flex:none; } .chain.ok { background:var(--okbg); color:var(--ok); } .chain.bad { background:var(--badbg); color:var(--bad); } .chain.pending { background:#fffaeb; color:var(--warn); }
.chain a { color:inherit; } .chain button, .filters button { border:1px solid var(--line); background:#fff; border-radius:6px; padding:4px 12px; cursor:pointer; }
main { padding:16px 24px; } main.message { max-width:720px; }
.filters { display:grid; grid-template-columns:repeat(auto-fill, minmax(150px, 1fr)); gap:8px 12px; background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px; }
.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:2px; }
.filters input, .filters select { font:inherit; padding:4px 6px; border:1px solid var(--line); border-radius:6px; background:#fff; }
.filters .actions { display:flex; gap:12px; align-items:end; } .filters .actions button { background:var(--accent); color:#fff; border-color:var(--accent); }
.count { color:var(--muted); margin:12px 0 6px; } .problem { color:var(--bad); background:var(--badbg); padding:6px 10px; border-radius:6px; }
.run { margin:12px 0 0; padding:8px 12px; background:#eef4ff; border-radius:6px; }
table { border-collapse:collapse; } table.events { width:100%; background:#fff; border:1px solid var(--line); border-radius:8px; }
.events th, .events td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; white-space:nowrap; }
.events td.target, .events td.reason { white-space:normal; }
.events th { font-size:12px; color:var(--muted); font-weight:600; background:#fcfcfd; }
.events tr.deny td { background:var(--badbg); } .events tr.error td { background:#fffaeb; }
.events td.reason small { color:var(--muted); } .events td.num, .events td.seq { text-align:right; color:var(--muted); } .events .empty { text-align:center; color:var(--muted); padding:24px; }
.outcome { display:inline-block; border-radius:10px; padding:0 8px; font-size:12px; font-weight:600; background:#f2f4f7; }
.outcome.allow, .outcome.ok { background:var(--okbg); color:var(--ok); } .outcome.deny { background:var(--badbg); color:var(--bad); } .outcome.error { background:#fffaeb; color:var(--warn); }
.skill { color:#5925dc; } code { font:12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.pager { display:flex; gap:16px; margin-top:10px; } a { color:var(--accent); }
h1 { font-size:20px; } h1 small { color:var(--muted); font-weight:400; } h2 { font-size:15px; margin-top:20px; }
table.kv th { text-align:left; color:var(--muted); font-weight:500; padding:3px 16px 3px 0; vertical-align:top; } table.kv td { padding:3px 0; }
table.sides { background:#fff; border:1px solid var(--line); margin-top:8px; } .sides th, .sides td { padding:6px 12px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
.sides tr.deny { background:var(--badbg); } pre { background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px; overflow:auto; max-width:100%; }
`;
