/**
 * SKILL.md frontmatter rules of the Agent Skills specification (agentskills.io), so any agent
 * can read a Skillgate skill as a plain Agent Skill.
 */
import { isMap, isScalar } from 'yaml';
import { type Diagnostic, didYouMean, positionOf } from '../shared/diagnostics.js';
import type { YamlSource } from './load.js';

/** The only top-level keys the specification allows. */
export const FRONTMATTER_KEYS = ['name', 'description', 'license', 'compatibility', 'metadata', 'allowed-tools'] as const;

const NAME_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export interface SkillMeta {
  name: string;
  description: string;
  version: string;
}

/** Check the frontmatter; returns the skill's name/description/version when usable. */
export function checkFrontmatter(src: YamlSource, folderName: string, diags: Diagnostic[]): SkillMeta | undefined {
  const at = (path: Array<string | number>, key = false) => {
    const p = positionOf(src.doc, src.lc, path, { key });
    return { file: src.file, line: p.line + src.lineOffset, col: p.col };
  };
  const root = src.doc.contents;
  if (!isMap(root)) {
    diags.push({ ...at([]), code: 'frontmatter-invalid', message: 'frontmatter must be a YAML map with `name` and `description`' });
    return undefined;
  }
  const data = src.doc.toJS() as Record<string, unknown>;
  for (const item of root.items) {
    const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
    if (!(FRONTMATTER_KEYS as readonly string[]).includes(key)) {
      const guess = didYouMean(key, FRONTMATTER_KEYS);
      diags.push({
        ...at([key], true),
        code: 'unknown-key',
        message: `unknown frontmatter key "${key}"`,
        hint: guess
          ? `did you mean "${guess}"?`
          : `Agent Skills allow only ${FRONTMATTER_KEYS.join(', ')}; put extra fields under \`metadata\`, the executable plan in plan.yaml`,
      });
    }
  }

  const name = data.name;
  let nameOk = false;
  if (name === undefined) {
    diags.push({ ...at([]), code: 'name-missing', message: 'frontmatter has no `name`', hint: `add \`name: ${folderName}\`` });
  } else if (typeof name !== 'string' || name.length < 1 || name.length > 64) {
    diags.push({ ...at(['name']), code: 'name-invalid', message: '`name` must be a string of 1–64 characters' });
  } else if (!NAME_RE.test(name)) {
    const fixed = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
    diags.push({
      ...at(['name']),
      code: 'name-invalid',
      message: `\`name\` "${name}" may only hold lowercase letters, digits and single hyphens, not at the start or end`,
      hint: fixed ? `e.g. "${fixed}"` : undefined,
    });
  } else if (name !== folderName) {
    diags.push({
      ...at(['name']),
      code: 'name-folder-mismatch',
      message: `\`name\` "${name}" differs from its folder "${folderName}"`,
      hint: 'Agent Skills require the name to equal the folder name: rename one of them',
    });
  } else {
    nameOk = true;
  }

  const description = data.description;
  let descriptionOk = false;
  if (description === undefined) {
    diags.push({ ...at([]), code: 'description-missing', message: 'frontmatter has no `description`', hint: 'say what the skill does and when to use it (1–1024 characters)' });
  } else if (typeof description !== 'string' || description.trim().length === 0) {
    diags.push({ ...at(['description']), code: 'description-invalid', message: '`description` must be non-empty text' });
  } else if (description.length > 1024) {
    diags.push({ ...at(['description']), code: 'description-invalid', message: `\`description\` is ${description.length} characters; at most 1024 are allowed` });
  } else {
    descriptionOk = true;
  }

  const metadata = data.metadata;
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      diags.push({ ...at(['metadata']), code: 'metadata-invalid', message: '`metadata` must be a map of string keys to string values' });
    } else {
      for (const [k, v] of Object.entries(metadata)) {
        if (typeof v !== 'string') {
          diags.push({ ...at(['metadata', k]), code: 'metadata-invalid', message: `metadata.${k} must be a string`, hint: `quote it: ${k}: "${String(v)}"` });
        }
      }
    }
  }
  const version = (metadata as Record<string, unknown> | undefined)?.version;
  return nameOk && descriptionOk
    ? { name: name as string, description: description as string, version: typeof version === 'string' ? version : '0' }
    : undefined;
}
