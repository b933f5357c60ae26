// What a StrykerJS run has tested so far, from the per-mutant files its event recorder writes
// (tmp/mutation/<run>/events/): a run stopped before its end writes no report, and these are then
// all there is. Prints the counts by status and each survivor as survivors.txt does.
//
//   node tools/mutate/events.mjs tmp/mutation/expr-lexer
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const dir = join(process.argv[2] ?? '', 'events');
const counts = {};
const survivors = [];
for (const name of readdirSync(dir).filter((n) => n.endsWith('-onMutantTested.json'))) {
  const m = JSON.parse(readFileSync(join(dir, name), 'utf8'));
  counts[m.status] = (counts[m.status] ?? 0) + 1;
  if (m.status === 'Survived' || m.status === 'NoCoverage') {
    const { line, column } = m.location.start;
    survivors.push(
      `${basename(m.fileName)}:${line}:${column} ${m.status} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? '')}`,
    );
  }
}
const tested = Object.values(counts).reduce((a, b) => a + b, 0);
const killed = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
console.log(
  `${tested} tested: ${JSON.stringify(counts)}; ${killed} killed (${((100 * killed) / (tested || 1)).toFixed(1)} %)`,
);
console.log(survivors.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).join('\n'));
