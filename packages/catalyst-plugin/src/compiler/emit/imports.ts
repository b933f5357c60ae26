/** Import lines as isort (and `ruff check`'s I001) wants them. */
import { LINE_WIDTH } from './value-code';

/** `from m import a, b`, wrapped in parentheses one name per line when too long. */
export function importLine(module: string, names: string[]): string {
  const flat = `from ${module} import ${names.join(', ')}`;
  if (flat.length <= LINE_WIDTH) return flat;
  return `from ${module} import (\n${names.map((n) => `    ${n},`).join('\n')}\n)`;
}
