// `npm run demo`: the whole path once, in a fresh Nx workspace —
// build and pack the plugin, `nx add @catalyst/plugin`, `nx g @catalyst/plugin:workflow`,
// `nx run hello-svc:codegen`, `nx run hello-svc:serve`, then a real request and its answer;
// then examples/store-dashboard, a service that runs four PostgreSQL queries at once, against
// the local PostgreSQL the tests use (started on loopback, installed from Debian's packages when
// missing). In a terminal the last service keeps running until Ctrl-C; with --once (or without
// a TTY) everything stops.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { ensureNodeModules } from './lib/bootstrap.mjs';
import { repoRoot } from './uv.mjs';

const require = createRequire(import.meta.url);
const { createWorkspace, freePort, packPlugin, waitForHttp } = require('./lib/workspace.cjs');
const { addExample, seedExample, startServices, stopServices } = require('./lib/examples.cjs');

const once = process.argv.includes('--once') || !process.stdout.isTTY;
const bold = process.stdout.isTTY ? (t) => `\x1b[1m${t}\x1b[0m` : (t) => t;
const step = (text) => console.log(`\n${bold(`▶ ${text}`)}`);
const show = (result) => {
  const text = result.output.trim();
  if (text)
    console.log(
      text
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  if (result.code !== 0) throw new Error(`exit ${result.code}`);
};

ensureNodeModules(repoRoot);

step('Build and pack @catalyst/plugin');
execFileSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'inherit' });
const demoDir = join(repoRoot, 'tmp', 'demo');
rmSync(demoDir, { recursive: true, force: true }); // the previous demo's workspace
mkdirSync(demoDir, { recursive: true });
const tarball = packPlugin(join(demoDir, 'pack'));
console.log(`  ${relative(repoRoot, tarball)}`);

step('Create an Nx workspace and `nx add @catalyst/plugin` (npm install takes a minute the first time)');
const ws = createWorkspace({ tarball, parent: demoDir, log: (line) => console.log(`  ${line}`) });
console.log(`  workspace: ${ws.root}`);

step('nx g @catalyst/plugin:workflow hello-svc');
show(ws.nx('g', '@catalyst/plugin:workflow', 'hello-svc', '--no-interactive'));
const definition = join(ws.root, 'apps/hello-svc/workflows/hello.workflow.yaml');
console.log(`\n  ${relative(ws.root, definition)}:\n`);
console.log(readFileSync(definition, 'utf8').replace(/^/gm, '    '));

step('nx run hello-svc:codegen');
show(ws.nx('run', 'hello-svc:codegen'));
const generatedDir = join(ws.root, 'apps/hello-svc/src/hello_svc/_generated');
console.log(`\n  generated: ${readdirSync(generatedDir).sort().join(', ')}\n`);
console.log(readFileSync(join(generatedDir, 'hello.py'), 'utf8').replace(/^/gm, '    '));

step('nx run hello-svc:codegen  (again: a cache hit)');
show(ws.nx('run', 'hello-svc:codegen'));

// One service at a time: started with `nx run <name>:serve`, stopped at the end (or by Ctrl-C).
let running;
let services;
const stateFile = join(demoDir, 'services.json');
const stopAll = async () => {
  await running?.stop();
  running = undefined;
  if (services) stopServices(stateFile);
  services = undefined;
};
process.on('SIGINT', () => stopAll().then(() => process.exit(0)));

async function serve(name, note = '') {
  const port = await freePort();
  step(`nx run ${name}:serve --port=${port}${note}`);
  running = ws.spawnNx(['run', `${name}:serve`, `--port=${port}`]);
  const server = running;
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/openapi.json`, { timeoutMs: 300_000, isAlive: () => server.child.exitCode === null });
  return base;
}

async function call(method, url, body, note = '') {
  step(`${method} ${url}${body === undefined ? '' : `  ${body}`}${note}`);
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body }),
  });
  console.log(`  HTTP ${res.status}`);
  for (const name of ['content-type', 'server-timing']) console.log(`  ${name}: ${res.headers.get(name)}`);
  console.log(`  ${await res.text()}`);
}

try {
  let base = await serve('hello-svc', '  (uv installs the Python stack the first time)');
  await call('POST', `${base}/hello`, JSON.stringify({ name: 'Ada' }));
  await call('POST', `${base}/hello`, '{}', '   (a bad request names the field)');
  await running.stop();

  step('A service that queries PostgreSQL: examples/store-dashboard (PostgreSQL and Redis start on loopback)');
  services = startServices(stateFile);
  addExample(ws, 'store-dashboard');
  seedExample(services, 'store-dashboard');
  const dashboard = join(ws.root, 'apps/store-dashboard/workflows/dashboard.workflow.yaml');
  console.log(`\n  ${relative(ws.root, dashboard)}:\n`);
  console.log(readFileSync(dashboard, 'utf8').replace(/^/gm, '    '));
  ws.env.DATABASE_URL = services.postgres.url;
  base = await serve('store-dashboard', '  (four queries at once on pooled connections)');
  await call('GET', `${base}/dashboard?month=2026-11`);

  if (once) {
    await stopAll();
    console.log(`\nDone. The workspace stays at ${ws.root}`);
  } else {
    console.log(`\nServing on ${base} (API docs at ${base}/docs). Press Ctrl-C to stop.`);
    await running.exited;
    await stopAll();
  }
} catch (err) {
  console.error(`\n${err}\n--- serve output ---\n${running?.output() ?? ''}`);
  await stopAll();
  process.exit(1);
}
