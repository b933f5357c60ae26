/**
 * Golden tests: every folder under testdata/ is one case. `workflows/` holds the definitions;
 * `expected/` the generated files (compared byte for byte), and/or `stderr.txt` the rendered
 * diagnostics (a case with errors generates nothing, so it has no `expected/`). Cases named
 * `err_*` must fail; all others must compile. `UPDATE_GOLDEN=1` rewrites the expectations.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileService, decodeDefinition, renderDiagnostics, type SourceFile } from './index';

const TESTDATA = join(__dirname, '..', '..', 'testdata');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const cases = readdirSync(TESTDATA, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(TESTDATA, d.name, 'workflows')))
  .map((d) => d.name)
  .sort();

function readSources(dir: string): SourceFile[] {
  return readdirSync(join(dir, 'workflows'))
    .sort()
    .map((f) => decodeDefinition(`workflows/${f}`, readFileSync(join(dir, 'workflows', f))));
}

function update(dir: string, files: { path: string; contents: string }[], stderr: string): void {
  rmSync(join(dir, 'expected'), { recursive: true, force: true });
  rmSync(join(dir, 'stderr.txt'), { force: true });
  if (stderr !== '') writeFileSync(join(dir, 'stderr.txt'), stderr);
  for (const f of files) {
    const target = join(dir, 'expected', f.path);
    mkdirSync(join(target, '..'), { recursive: true });
    writeFileSync(target, f.contents);
  }
}

describe('compiler golden cases', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases)('%s', (name) => {
    const dir = join(TESTDATA, name);
    const sources = readSources(dir);
    const result = compileService(sources);
    const stderr = renderDiagnostics(result.diagnostics, sources);
    // The name says which way a case must go, so an update cannot silently flip it.
    if (name.startsWith('err_')) expect(result.files).toEqual([]);
    else expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    if (UPDATE) update(dir, result.files, stderr);

    // stderr.txt holds the diagnostics: errors (then nothing is generated) or warnings.
    const stderrFile = join(dir, 'stderr.txt');
    expect(stderr).toBe(existsSync(stderrFile) ? readFileSync(stderrFile, 'utf8') : '');
    const expectedDir = join(dir, 'expected');
    const expectedNames = existsSync(expectedDir) ? readdirSync(expectedDir).sort() : [];
    expect(result.files.map((f) => f.path).sort()).toEqual(expectedNames);
    for (const f of result.files) {
      expect(`${f.path}:\n${f.contents}`).toBe(`${f.path}:\n${readFileSync(join(expectedDir, f.path), 'utf8')}`);
    }
  });

  it.each(cases)('%s compiles to the same bytes whatever the order of its sources', (name) => {
    const sources = readSources(join(TESTDATA, name));
    const a = compileService(sources);
    const b = compileService([...sources].reverse());
    expect(b).toEqual(a);
  });
});
