/**
 * The compiler's folders read as its pipeline: imports between folders go one way. A folder
 * cycle (expr ↔ emit, nodes ↔ emit, ...) means two passes each know the other's internals;
 * this keeps them from coming back. `python/` is a leaf: it writes Python text and knows
 * nothing of workflows.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = __dirname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'test-utils' ? [] : sources(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Folder of a file relative to the compiler root ('.' for the loose files at the top). */
const folderOf = (file: string): string => relative(ROOT, dirname(file)).split('/')[0] || '.';

function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sources(ROOT)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']*)'/gm)) {
      const to = folderOf(resolve(dirname(file), spec));
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

/** Every cycle through folders, as a path `a → b → a` (each reported once, from its first folder). */
function cycles(graph: Map<string, Set<string>>): string[] {
  const found = new Set<string>();
  const walk = (path: string[]): void => {
    for (const next of graph.get(path[path.length - 1]) ?? []) {
      if (next === path[0]) found.add([...path, next].join(' → '));
      else if (!path.includes(next) && next > path[0]) walk([...path, next]);
    }
  };
  for (const start of [...graph.keys()].sort()) walk([start]);
  return [...found];
}

describe('compiler folders', () => {
  const graph = folderGraph();

  it('import one another without cycles', () => {
    expect(graph.size).toBeGreaterThan(5);
    expect(cycles(graph)).toEqual([]);
  });

  it('keep python/ a leaf', () => {
    expect([...(graph.get('python') ?? [])]).toEqual([]);
  });

  it('find a cycle when there is one', () => {
    const looped = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
    ]);
    expect(cycles(looped)).toEqual(['a → b → c → a']);
  });
});
