// Builds a real Nx workspace in a temp folder with the packed @catalyst/plugin installed.
// Shared by the end-to-end suite (packages/e2e) and `npm run demo`, so the demo walks exactly
// the path the tests prove.
'use strict';

const { execFileSync, spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { delimiter, dirname, join, resolve } = require('node:path');

const repoRoot = resolve(__dirname, '..', '..');
const pluginRoot = join(repoRoot, 'packages', 'catalyst-plugin');
// The Nx majors the plugin supports (peer range of @nx/devkit): the main e2e suite runs on the
// first, a short one on the second. @nx/devkit is published less often than nx, hence two pins.
const NX_VERSIONS = {
  23: { nx: '23.3.1', devkit: '23.3.1' },
  24: { nx: '24.0.6', devkit: '24.0.0' },
};
const NX_VERSION = NX_VERSIONS[23].nx;

/** Path of the pinned uv (installed into .tools/venv on first use); see tools/uv.mjs. */
function ensureUv() {
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', "import { ensureUv } from './tools/uv.mjs'; console.log(ensureUv());"],
    { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return out.trim().split('\n').pop();
}

/** Environment for Nx and uv in the sample workspace: no daemon, no cloud, no TUI, no CI, uv on PATH. */
function workspaceEnv(uv) {
  // The sample workspace is a developer's, wherever the suite runs: Nx behaves differently
  // under CI (it skips the tasks' sync generators), so a CI variable of the machine that runs
  // the suite is not passed on. A test that wants CI behaviour sets CI itself.
  const inherited = { ...process.env };
  delete inherited.CI;
  return {
    ...inherited,
    PATH: [dirname(uv), process.env.PATH].join(delimiter),
    UV: uv,
    UV_PYTHON_DOWNLOADS: 'never',
    UV_NO_PROGRESS: '1',
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    FORCE_COLOR: '0',
    NO_COLOR: '1',
  };
}

/** `npm pack` the built plugin into `dest`; returns the tarball's absolute path. */
function packPlugin(dest) {
  mkdirSync(dest, { recursive: true });
  execFileSync('npm', ['pack', '--silent', '--pack-destination', dest], {
    cwd: pluginRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const tarball = readdirSync(dest).find((f) => f.startsWith('catalyst-plugin-') && f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${dest}`);
  return join(dest, tarball);
}

function run(cmd, args, opts) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  return { code: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '', output };
}

/**
 * A fresh Nx workspace (npm, git) in a temp folder with the plugin added by `nx add` from its
 * tarball. Returns helpers bound to the workspace.
 */
function createWorkspace({ tarball, log = () => {}, parent = tmpdir(), nxMajor = 23 } = {}) {
  const versions = NX_VERSIONS[nxMajor];
  if (!versions)
    throw new Error(`no pinned versions for Nx ${nxMajor} (known: ${Object.keys(NX_VERSIONS).join(', ')})`);
  const root = mkdtempSync(join(parent, 'catalyst-ws-'));
  const uv = ensureUv();
  const env = workspaceEnv(uv);
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify(
      {
        name: 'sample-workspace',
        private: true,
        devDependencies: { nx: versions.nx, '@nx/devkit': versions.devkit },
      },
      null,
      2,
    ) + '\n',
  );
  writeFileSync(
    join(root, 'nx.json'),
    JSON.stringify({ $schema: './node_modules/nx/schemas/nx-schema.json' }, null, 2) + '\n',
  );
  writeFileSync(join(root, '.gitignore'), 'node_modules/\n.nx/\n');

  const sh = (cmd, args, opts = {}) => {
    log(`$ ${[cmd, ...args].join(' ')}`);
    return run(cmd, args, { cwd: root, env, ...opts });
  };
  const must = (cmd, args, opts) => {
    const r = sh(cmd, args, opts);
    if (r.code !== 0) throw new Error(`\`${[cmd, ...args].join(' ')}\` exited ${r.code}:\n${r.output}`);
    return r;
  };
  const nx = (...args) => sh(join(root, 'node_modules', '.bin', 'nx'), args);

  must('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  must('git', ['init', '-q', '-b', 'main']);
  must('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@localhost', 'commit', '-q', '--allow-empty', '-m', 'init']);
  if (tarball) {
    const added = nx('add', `@catalyst/plugin@file:${tarball}`);
    if (added.code !== 0) throw new Error(`nx add failed:\n${added.output}`);
  }

  return {
    root,
    env,
    uv,
    sh,
    must,
    nx,
    commit(message) {
      must('git', ['add', '-A']);
      must('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@localhost', 'commit', '-q', '-m', message]);
    },
    /** Start a long-running `nx` command in its own process group; `stop()` ends the group. */
    spawnNx(args) {
      log(`$ nx ${args.join(' ')} &`);
      const child = spawn(join(root, 'node_modules', '.bin', 'nx'), args, {
        cwd: root,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
      return {
        child,
        output: () => output,
        exited,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            try {
              process.kill(-child.pid, 'SIGTERM');
            } catch {
              /* already gone */
            }
            const timer = setTimeout(() => {
              try {
                process.kill(-child.pid, 'SIGKILL');
              } catch {
                /* already gone */
              }
            }, 5000);
            await exited;
            clearTimeout(timer);
          }
        },
      };
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A free TCP port on the loopback interface. */
function freePort() {
  return new Promise((res, rej) => {
    const server = net.createServer();
    server.unref();
    server.on('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
  });
}

/** Poll `url` until it answers (any HTTP status) or `timeoutMs` passes. */
async function waitForHttp(url, { timeoutMs = 120_000, isAlive = () => true } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`server exited before answering ${url}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms: ${lastError}`);
}

module.exports = {
  NX_VERSION,
  NX_VERSIONS,
  createWorkspace,
  ensureUv,
  freePort,
  packPlugin,
  pluginRoot,
  repoRoot,
  waitForHttp,
  workspaceEnv,
};
