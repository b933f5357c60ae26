/**
 * The examples under examples/ compile without a diagnostic. The end-to-end suite serves them;
 * this fails in seconds, beside the change to the compiler that broke one.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileService, decodeDefinition, renderDiagnostics } from './index';

const EXAMPLES = join(__dirname, '..', '..', '..', '..', 'examples');

const examples = readdirSync(EXAMPLES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(EXAMPLES, d.name, 'workflows')))
  .map((d) => d.name)
  .sort();

describe('examples', () => {
  it('has examples', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples)('%s compiles cleanly', (name) => {
    const dir = join(EXAMPLES, name, 'workflows');
    const sources = readdirSync(dir)
      .sort()
      .map((f) => decodeDefinition(`workflows/${f}`, readFileSync(join(dir, f))));
    const result = compileService(sources);
    expect(renderDiagnostics(result.diagnostics, sources)).toBe('');
    expect(result.files.map((f) => f.path)).toContain('__init__.py');
  });
});
