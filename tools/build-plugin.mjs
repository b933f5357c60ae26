// Builds @catalyst/plugin into packages/catalyst-plugin/dist (what `npm pack` ships):
//   1. tsc -p packages/catalyst-plugin/tsconfig.json (src/ → dist/, declarations included);
//   2. copies the non-TypeScript assets to the same relative paths under dist/: generator
//      `files/` trees, schema.json files, hand-written .d.ts files, and every .ejs template;
//   3. checks packages/catalyst-plugin/schema/workflow.schema.json against the compiler's
//      workflowJsonSchema(): a stale file is reported, not rewritten, so that the plugin's unit
//      test (json-schema.spec.ts) fails on it in `npm test` and not only the clean-tree check in
//      CI; `npm run golden:update` rewrites it. Written only when missing.
// Usage: node tools/build-plugin.mjs   (or `npm run build` at the repo root)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgRoot = join(repoRoot, 'packages', 'catalyst-plugin');
const srcDir = join(pkgRoot, 'src');
const distDir = join(pkgRoot, 'dist');
const require = createRequire(import.meta.url);

function log(message) {
  console.log(`[build-plugin] ${message}`);
}

/** Every file under `dir`, absolute, sorted. */
function walk(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const full = join(dir, entry);
      return statSync(full).isDirectory() ? walk(full) : [full];
    });
}

/** Whether a src file is an asset to copy verbatim rather than TypeScript for tsc. */
function isAsset(file) {
  const rel = relative(srcDir, file).split(sep);
  if (rel.includes('__pycache__')) return false;
  const insideFilesTree = rel[0] === 'generators' && rel[2] === 'files';
  const name = rel[rel.length - 1];
  return (
    insideFilesTree || name === 'schema.json' || name.endsWith('.ejs') || (name.endsWith('.d.ts') && !insideFilesTree)
  );
}

// 1. TypeScript
rmSync(distDir, { recursive: true, force: true });
const tsc = require.resolve('typescript/bin/tsc', { paths: [repoRoot] });
log('tsc -p packages/catalyst-plugin/tsconfig.json');
const tscRun = spawnSync(process.execPath, [tsc, '-p', join(pkgRoot, 'tsconfig.json')], { stdio: 'inherit' });
if (tscRun.status !== 0) {
  log(`tsc failed (exit ${tscRun.status ?? tscRun.signal}): fix the errors above`);
  process.exit(1);
}

// 2. Assets
let copied = 0;
for (const file of walk(srcDir)) {
  if (!isAsset(file)) continue;
  const target = join(distDir, relative(srcDir, file));
  mkdirSync(dirname(target), { recursive: true });
  cpSync(file, target);
  copied++;
}
log(`copied ${copied} assets into dist/`);

// 3. JSON Schema for workflow definitions
const compilerEntry = join(distDir, 'compiler', 'index.js');
const compiler = existsSync(compilerEntry) ? require(compilerEntry) : {};
if (typeof compiler.workflowJsonSchema === 'function') {
  const schemaFile = join(pkgRoot, 'schema', 'workflow.schema.json');
  const text =
    typeof compiler.workflowJsonSchemaText === 'function'
      ? compiler.workflowJsonSchemaText()
      : `${JSON.stringify(compiler.workflowJsonSchema(), null, 2)}\n`;
  if (!existsSync(schemaFile)) {
    mkdirSync(dirname(schemaFile), { recursive: true });
    writeFileSync(schemaFile, text);
    log(`wrote ${relative(repoRoot, schemaFile)}`);
  } else if (readFileSync(schemaFile, 'utf8') !== text) {
    log(
      `${relative(repoRoot, schemaFile)} differs from the one the zod schemas give: run \`npm run golden:update\` and commit it (the plugin unit test fails until then)`,
    );
  }
} else {
  log('the compiler does not export workflowJsonSchema() yet: schema/workflow.schema.json not written');
}
