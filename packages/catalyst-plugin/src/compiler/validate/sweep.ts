/**
 * When the definition's shape is wrong, the later passes cannot run; this still parses every
 * expression it can find, so syntax errors arrive in the same run as the shape errors.
 */
import type { JsonPath } from '../report/diagnostics';
import { parseValue } from '../expr/value';
import type { Reporter } from '../report/reporter';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function sweepExpressions(value: unknown, reporter: Reporter): void {
  if (!isObject(value)) return;
  if (value.output !== undefined) parseValue(value.output, ['output'], reporter);
  if (!Array.isArray(value.nodes)) return;
  value.nodes.forEach((node, i) => {
    if (!isObject(node)) return;
    for (const [key, field] of Object.entries(node)) {
      // Every field but the node's names may hold expressions (set, when, and later kinds' config).
      if (key === 'id' || key === 'type' || key === 'after' || key === 'description') continue;
      const path: JsonPath = ['nodes', i, key];
      parseValue(field, path, reporter);
    }
  });
}
