// `npm run demo`: the whole path once, in a fresh Nx workspace —
// build and pack the plugin, `nx add @catalyst/plugin`, `nx g @catalyst/plugin:workflow`,
// `nx run hello-svc:codegen`, `nx run hello-svc:serve`, then a real request and its answer.
// In a terminal the service keeps running until Ctrl-C; with --once (or without a TTY) it stops.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { ensureNodeModules } from './lib/bootstrap.mjs';
import { repoRoot } from './uv.mjs';

const require = createRequire(import.meta.url);
const { createWorkspace, freePort, packPlugin, waitForHttp } = require('./lib/workspace.cjs');

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

const port = await freePort();
step(`nx run hello-svc:serve --port=${port}  (uv installs the Python stack the first time)`);
const server = ws.spawnNx(['run', 'hello-svc:serve', `--port=${port}`]);
const stop = async () => {
  await server.stop();
};
process.on('SIGINT', () => stop().then(() => process.exit(0)));
try {
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/openapi.json`, { timeoutMs: 300_000, isAlive: () => server.child.exitCode === null });

  const body = { name: 'Ada' };
  step(`POST ${base}/hello  ${JSON.stringify(body)}`);
  const res = await fetch(`${base}/hello`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  console.log(`  HTTP ${res.status}`);
  for (const name of ['content-type', 'server-timing']) console.log(`  ${name}: ${res.headers.get(name)}`);
  console.log(`  ${await res.text()}`);

  step(`POST ${base}/hello  {}   (a bad request names the field)`);
  const bad = await fetch(`${base}/hello`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  console.log(`  HTTP ${bad.status}\n  ${await bad.text()}`);

  if (once) {
    await stop();
    console.log(`\nDone. The workspace stays at ${ws.root}`);
  } else {
    console.log(`\nServing on ${base} (API docs at ${base}/docs). Press Ctrl-C to stop.`);
    await server.exited;
  }
} catch (err) {
  console.error(`\n${err}\n--- serve output ---\n${server.output()}`);
  await stop();
  process.exit(1);
}
