import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Json } from '../../src/contracts/json.js';
import { DataLossError } from '../dlp/errors.js';
import { scanJson, scanText, type ScanState } from '../dlp/scan.js';
import { refusal } from '../log.js';
import type { PipelineStep } from './context.js';
import { dlpLogFields } from './filter-arguments.js';
import { normalizeResult } from './normalize-result.js';

type Block = CallToolResult['content'][number];

/**
 * Data-loss filter on the result (gateway/dlp/), after normalize-result. Scanned: text blocks
 * (`/content/<i>/text`), embedded text resources (`/content/<i>/resource/text`) and
 * structured content (`/structuredContent/…`). `redact` matches are replaced and the output
 * is derived again from the filtered result; a `block` match withholds the whole result
 * (DataLossError naming the rule — the upstream call has happened). Binary content (images,
 * audio, blobs) is not scanned.
 */
export const filterResult: PipelineStep = (ctx, deps) => {
  const { dataLoss } = deps;
  const result = ctx.result;
  if (!result) return;
  const { gateway, server, tool } = ctx.request;
  const rules = dataLoss.rulesFor(gateway, server, tool);
  const side = rules.result;
  if (side.detectors.size === 0) return;
  const state: ScanState = { findings: [] };
  let changed = false;
  const content = result.content.map((block, i): Block => {
    if (block.type === 'text') {
      const text = scanText(block.text, `/content/${i}/text`, 'result', side, state, rules.phoneRegion);
      if (text === block.text) return block;
      changed = true;
      return { ...block, text };
    }
    if (block.type === 'resource' && 'text' in block.resource && typeof block.resource.text === 'string') {
      const text = scanText(block.resource.text, `/content/${i}/resource/text`, 'result', side, state, rules.phoneRegion);
      if (text === block.resource.text) return block;
      changed = true;
      return { ...block, resource: { ...block.resource, text } };
    }
    return block;
  });
  let structured = result.structuredContent;
  if (structured !== undefined) {
    const s = scanJson(structured as Json, '/structuredContent', 'result', side, state, rules.phoneRegion);
    if (s !== structured) {
      changed = true;
      structured = s as CallToolResult['structuredContent'];
    }
  }
  if (!state.findings.length) return;
  ctx.dlp = { findings: [...(ctx.dlp?.findings ?? []), ...state.findings], ...(ctx.dlp?.blocked ? { blocked: ctx.dlp.blocked } : state.blocked ? { blocked: state.blocked } : {}) };
  if (state.blocked) {
    const b = state.blocked;
    refusal(dataLoss.log, { ...dlpLogFields(ctx), code: 'ERR_DLP_BLOCKED_RESULT', rule: b.rule, source: b.source, path: b.path, findings: state.findings });
    ctx.result = undefined;
    ctx.output = undefined;
    throw new DataLossError(b);
  }
  if (changed) {
    ctx.result = { ...result, content, ...(structured !== undefined ? { structuredContent: structured } : {}) };
    // The output was derived from the result before it was filtered: derive it again.
    void normalizeResult(ctx, deps);
  }
  dataLoss.log.info('data-loss filter redacted the result', { event: 'dlp', ...dlpLogFields(ctx), findings: state.findings });
};
