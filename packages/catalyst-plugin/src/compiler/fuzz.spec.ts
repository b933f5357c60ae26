/**
 * Robustness: whatever the input — random bytes, random JSON, token soup in expressions,
 * mutated definitions, huge or deeply nested files — the compiler answers with files or
 * diagnostics at valid positions. Never an exception, never an internal error.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileService, renderDiagnostics, type SourceFile } from './index';
import { SCOPE_DEFINITION, tokenSoup } from './test-utils/arbitraries';

const HELLO = readFileSync(
  join(__dirname, '..', '..', 'testdata', 'hello', 'workflows', 'hello.workflow.yaml'),
  'utf8',
);

function assertClean(sources: SourceFile[]): void {
  const result = compileService(sources);
  renderDiagnostics(result.diagnostics, sources);
  for (const d of result.diagnostics) {
    if (d.code === 'internal')
      throw new Error(`internal error: ${d.message}\n${JSON.stringify(sources).slice(0, 2000)}`);
    const text = sources.find((s) => s.path === d.file)?.text ?? '';
    const lines = text.split(/\r\n|\r|\n/);
    if (d.position.line < 1 || d.position.line > Math.max(1, lines.length) || d.position.column < 1) {
      throw new Error(`bad position ${JSON.stringify(d)}`);
    }
  }
  if (result.diagnostics.some((d) => d.severity === 'error') !== (result.files.length === 0))
    throw new Error('files and errors disagree');
}

const yamlFile = (text: string): SourceFile[] => [{ path: 'workflows/f.workflow.yaml', text }];
const jsonFile = (text: string): SourceFile[] => [{ path: 'workflows/f.workflow.json', text }];

describe('compiler fuzzing', () => {
  it('survives random text as YAML and as JSON', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        assertClean(yamlFile(text));
        assertClean(jsonFile(text));
      }),
      { numRuns: 1500, seed: 1 },
    );
  });

  it('survives random file names, in diagnostics and in generated comments', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('a\u2028b', '\u202eevil', 'x\x1b[2Jy')),
        fc.boolean(),
        (name, broken) => {
          const text = broken ? HELLO.replace('{{ input.name }}', '{{ input.nope }}') : HELLO;
          const sources = [{ path: `workflows/${name}.workflow.yaml`, text }];
          assertClean(sources);
          // Whatever the name holds, it adds no line to a diagnostic or a generated file.
          const rendered = renderDiagnostics(compileService(sources).diagnostics, sources);
          expect(rendered).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/);
          for (const file of compileService(sources).files) {
            expect(file.contents).not.toMatch(/[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]/);
          }
        },
      ),
      { numRuns: 500, seed: 12 },
    );
  });

  it('survives random JSON documents', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => assertClean(jsonFile(JSON.stringify(value)))),
      { numRuns: 1000, seed: 2 },
    );
  });

  it('survives random definitions built from the real field names', () => {
    const field = fc.constantFrom(
      'id',
      'type',
      'set',
      'nodes',
      'output',
      'input',
      'trigger',
      'when',
      'after',
      'properties',
      'required',
      'method',
      'path',
      'transform',
      'default',
      'items',
      '__proto__',
      'constructor',
    );
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        field,
        tokenSoup,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(field, tie('v'), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(field, value, { maxKeys: 6 }), (def) => assertClean(jsonFile(JSON.stringify(def)))),
      { numRuns: 1000, seed: 3 },
    );
  });

  it('survives token soup in every expression position', () => {
    fc.assert(
      fc.property(tokenSoup, tokenSoup, tokenSoup, (a, b, c) => {
        const def = {
          ...SCOPE_DEFINITION,
          nodes: [
            { id: 'a', type: 'transform', when: a, set: { v: b } },
            { id: 'z', type: 'transform', set: { w: `{{ ${c} }}` } },
          ],
          output: { x: `{{ ${a} }}`, y: c },
        };
        assertClean(jsonFile(JSON.stringify(def, null, 1)));
      }),
      { numRuns: 1500, seed: 4 },
    );
  });

  it('survives random edits of a valid definition', () => {
    const edit = fc.tuple(fc.nat(), fc.nat({ max: 5 }), fc.string({ maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let text = HELLO;
        for (const [at, remove, insert] of edits) {
          const i = at % (text.length + 1);
          text = text.slice(0, i) + insert + text.slice(i + remove);
        }
        assertClean(yamlFile(text));
      }),
      { numRuns: 1000, seed: 5 },
    );
  });

  it('reports deep nesting instead of overflowing the stack', () => {
    const deep = 100_000;
    assertClean(yamlFile(`id: d\noutput: { v: ${'['.repeat(deep)}${']'.repeat(deep)} }\n`));
    assertClean(jsonFile(`{"id":"d","output":${'{"a":'.repeat(deep)}1${'}'.repeat(deep)}}`));
    assertClean(yamlFile(`id: d\noutput: { v: "{{ ${'('.repeat(deep)}1${')'.repeat(deep)} }}" }\n`));
    assertClean(yamlFile(`id: d\noutput: { v: "{{ ${Array.from({ length: 10_000 }, () => '1').join(' + ')} }}" }\n`));
    assertClean(yamlFile(`id: d\noutput: { v: "{{ 'a'${' | upper'.repeat(10_000)} }}" }\n`));
  });

  it('keeps chained defaults linear in size', () => {
    // Each `| default` tests its operand; written out twice per level, 30 levels would be 2^30.
    const chain = `input.tags | default([]) | first${' | default(null)'.repeat(30)} | default('z')`;
    const result = compileService(
      yamlFile(
        `id: d\ninput: { properties: { tags: { type: array, items: { type: string } } } }\noutput: { v: "{{ ${chain} }}" }\n`,
      ),
    );
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const module = result.files.find((f) => f.path === 'd.py')!.contents;
    expect(module.length).toBeLessThan(20_000);
  });

  it('compiles a 10 MB definition without trouble', () => {
    // A chain: each node reads the one before it, and the output reads the last.
    let text = 'id: big\ninput: { properties: { x: { type: integer } } }\nnodes:\n';
    let i = 0;
    for (; text.length < 10 * 1024 * 1024; i++) {
      const v = i === 0 ? 'input.x | default(1)' : `nodes.n${i - 1}.v + 1`;
      text += `  - id: n${i}\n    type: transform\n    set: { v: "{{ ${v} }}", text: "${'lorem ipsum '.repeat(20)}" }\n`;
    }
    text += `output: { v: "{{ nodes.n${i - 1}.v }}" }\n`;
    const result = compileService(yamlFile(text));
    expect(result.diagnostics).toEqual([]);
    expect(result.files.map((f) => f.path)).toEqual(['__init__.py', 'big.mmd', 'big.py']);
  }, 60_000);

  it('bounds what aliases expand to, not only how many there are', () => {
    // 70 KB: 3000 aliases of a 1000-item list would be 3 million values (a module of 100+ MB).
    const items = Array(1000).fill('"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"').join(',');
    const copies = Array.from({ length: 3000 }, (_, i) => `  k${i}: *a`).join('\n');
    const result = compileService(yamlFile(`a: &a [${items}]\nid: x\noutput:\n${copies}\n`));
    expect(result.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ['too_large', 'aliases copy more than 100000 values; write what they share once (a global, a node) instead'],
    ]);
    // 160 KB: 5000 aliases of a 100 KB string would be 500 MB of text.
    const long = Array.from({ length: 5000 }, (_, i) => `  k${i}: *a`).join('\n');
    const text = compileService(yamlFile(`a: &a "${'y'.repeat(100_000)}"\nid: x\noutput:\n${long}\n`));
    expect(text.diagnostics.map((d) => d.code)).toEqual(['too_large']);
    // No wall-clock bound here (it failed under a loaded machine): the test's own timeout is
    // the backstop, and the expansion count above is what keeps the work bounded.
  });

  it('reports 150k trivial nodes instead of overflowing the stack, at most 100 diagnostics a file', () => {
    let text = 'id: many\nnodes:\n';
    for (let i = 0; i < 150_000; i++) text += `  - {id: n${i}, type: transform, set: {}}\n`;
    const result = compileService(yamlFile(text));
    expect(result.diagnostics).toHaveLength(101);
    expect(result.diagnostics[100].message).toBe(
      '149900 more diagnostics in this file are not shown (at most 100 per file); fix these first',
    );
  }, 120_000);

  it('rejects an alias bomb and an oversized file with a diagnostic', () => {
    const bomb = [
      'a: &a [x,x,x,x,x,x,x,x,x]',
      ...'bcdef'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcde'[i]}`).join(',')}]`),
      'id: x',
    ].join('\n');
    expect(compileService(yamlFile(bomb)).diagnostics.map((d) => d.code)).toEqual(['too_large']);
    expect(compileService(yamlFile(`id: x\n#${'x'.repeat(21 * 1024 * 1024)}`)).diagnostics.map((d) => d.code)).toEqual([
      'too_large',
    ]);
  });
});
