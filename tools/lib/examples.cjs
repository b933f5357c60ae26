// The examples under examples/, laid out as services of a sample workspace the way a user would:
// `nx g @catalyst/plugin:workflow <name>`, the example's definitions in place of the sample one,
// `nx run <name>:codegen`. Shared by the end-to-end suite (packages/e2e) and `npm run demo`.
//
// Also starts and stops the PostgreSQL and Redis the tests use (tools/services), through its
// command line, so CommonJS callers (jest) need no ES-module loader.
'use strict';

const { execFileSync } = require('node:child_process');
const { copyFileSync, existsSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const repoRoot = join(__dirname, '..', '..');
const examplesDir = join(repoRoot, 'examples');
const servicesCli = join(repoRoot, 'tools', 'services', 'services.mjs');

/** The example folders, sorted: each has a workflows/ folder. */
function exampleNames() {
  return readdirSync(examplesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(examplesDir, entry.name, 'workflows')))
    .map((entry) => entry.name)
    .sort();
}

/** The runtime extras examples/<name>/runtime-extras.txt lists (one a line, `#` comments), sorted. */
function runtimeExtras(name) {
  const file = join(examplesDir, name, 'runtime-extras.txt');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
    .sort();
}

/**
 * Scaffolds service `name` in `ws` from examples/<name>: the generated sample workflow and its
 * test are replaced by the example's definitions, then compiled. The runtime extras the example
 * lists are added as a user adds them, `uv add --package <name> "catalyst-runtime[llm]"` (which
 * also locks and installs them). Throws with nx's or uv's output when a step fails. Returns the
 * service's folder.
 */
function addExample(ws, name) {
  const source = join(examplesDir, name, 'workflows');
  if (!existsSync(source)) throw new Error(`no example "${name}" (examples/${name}/workflows is missing)`);
  const step = (...args) => {
    const result = ws.nx(...args);
    if (result.code !== 0) throw new Error(`nx ${args.join(' ')} failed (exit ${result.code}):\n${result.output}`);
    return result;
  };
  step('g', '@catalyst/plugin:workflow', name, '--no-interactive');
  const root = join(ws.root, 'apps', name);
  rmSync(join(root, 'workflows', 'hello.workflow.yaml'));
  rmSync(join(root, 'tests', 'test_hello.py'));
  for (const file of readdirSync(source).sort()) copyFileSync(join(source, file), join(root, 'workflows', file));
  const extras = runtimeExtras(name);
  if (extras.length > 0) {
    const added = ws.sh(ws.uv, ['add', '--package', name, `catalyst-runtime[${extras.join(',')}]`]);
    if (added.code !== 0) throw new Error(`uv add failed (exit ${added.code}):\n${added.output}`);
  }
  step('run', `${name}:codegen`);
  return root;
}

/**
 * Starts PostgreSQL and Redis on free loopback ports; `stateFile` records them for stopServices.
 * Returns { postgres: { url, psql }, redis: { url } }.
 */
function startServices(stateFile) {
  execFileSync(process.execPath, [servicesCli, 'start', '--state', stateFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return JSON.parse(readFileSync(stateFile, 'utf8'));
}

function stopServices(stateFile) {
  execFileSync(process.execPath, [servicesCli, 'stop', '--state', stateFile], { stdio: 'inherit' });
}

/** Loads examples/<name>/seed.sql into the database, stopping at the first error. */
function seedExample(services, name) {
  const file = join(examplesDir, name, 'seed.sql');
  execFileSync(services.postgres.psql, ['-q', '-v', 'ON_ERROR_STOP=1', '-d', services.postgres.url, '-f', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

module.exports = { addExample, exampleNames, examplesDir, runtimeExtras, seedExample, startServices, stopServices };
