import type { Json } from '../../src/contracts/json.js';
import type { PipelineStep } from './context.js';

/**
 * The output a skill step sees: structuredContent when the tool returned it (MCP 2025-06-18
 * structured tool output), else JSON parsed from a single text block, else `{ text }`.
 */
export const normalizeResult: PipelineStep = (ctx) => {
  const result = ctx.result;
  if (!result) return;
  if (result.structuredContent !== undefined) {
    ctx.output = result.structuredContent as Json;
    return;
  }
  const texts = result.content.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text);
  if (texts.length === 1) {
    try {
      ctx.output = JSON.parse(texts[0]!) as Json;
      return;
    } catch {
      /* plain text */
    }
  }
  ctx.output = { text: texts.join('\n') };
};

/** The text of a result's content, for error messages (bounded). */
export function resultText(content: ReadonlyArray<{ type: string; text?: string }>, max = 500): string {
  const text = content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join(' ')
    .trim();
  return text.length > max ? `${text.slice(0, max)}…` : text || '(no message)';
}
