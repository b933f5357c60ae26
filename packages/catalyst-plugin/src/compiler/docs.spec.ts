/**
 * The docs stay true: every code block in docs/*.md preceded by a marker
 *   <!-- golden: <case>/<file> [from "<text>"] [to "<text>"] -->
 * must equal those lines of the golden file (from the first line containing `from`, through
 * the next line containing `to`). `UPDATE_GOLDEN=1` rewrites the blocks from the goldens.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..', '..');
const TESTDATA = join(ROOT, 'packages', 'catalyst-plugin', 'testdata');
const DOCS = ['definition-language.md', 'expressions.md'].map((f) => join(ROOT, 'docs', f));
// `from`/`to` texts may hold quotes escaped as \" (a plain [^"]* would silently skip such a block).
const MARKER =
  /<!-- golden: (\S+)(?: from "((?:[^"\\]|\\.)*)")?(?: to "((?:[^"\\]|\\.)*)")? -->\n(```[a-z]*\n)([\s\S]*?)```/g;
const unescape = (s: string | undefined): string | undefined => s?.replace(/\\(.)/g, '$1');

function excerpt(file: string, from?: string, to?: string): string {
  const lines = readFileSync(join(TESTDATA, file), 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const start = from === undefined ? 0 : lines.findIndex((l) => l.includes(from));
  if (start < 0) throw new Error(`${file}: no line contains "${from}"`);
  const endOffset = to === undefined ? lines.length - 1 - start : lines.slice(start).findIndex((l) => l.includes(to));
  if (endOffset < 0) throw new Error(`${file}: no line after "${from}" contains "${to}"`);
  return `${lines.slice(start, start + endOffset + 1).join('\n')}\n`;
}

describe('docs are backed by golden cases', () => {
  it.each(DOCS.filter(existsSync))('%s', (doc) => {
    if (process.env.UPDATE_GOLDEN === '1') {
      const text = readFileSync(doc, 'utf8');
      writeFileSync(
        doc,
        text.replace(MARKER, (_m, file: string, from: string | undefined, to: string | undefined, fence: string) => {
          const args = `${from === undefined ? '' : ` from "${from}"`}${to === undefined ? '' : ` to "${to}"`}`;
          return `<!-- golden: ${file}${args} -->\n${fence}${excerpt(file, unescape(from), unescape(to))}\`\`\``;
        }),
      );
    }
    const blocks = [...readFileSync(doc, 'utf8').matchAll(MARKER)];
    expect(blocks.length).toBeGreaterThan(0);
    for (const [, file, from, to, , body] of blocks) {
      expect({ file, body }).toEqual({ file, body: excerpt(file, unescape(from), unescape(to)) });
    }
  });

  it('every golden case named in the docs exists', () => {
    const cases = new Set(readdirSync(TESTDATA));
    for (const doc of DOCS.filter(existsSync)) {
      for (const [, file] of readFileSync(doc, 'utf8').matchAll(MARKER)) expect(cases).toContain(file.split('/')[0]);
    }
  });
});
