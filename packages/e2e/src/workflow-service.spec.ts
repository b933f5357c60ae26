// The critical path a user walks, for real: a fresh Nx workspace, the packed plugin added with
// `nx add`, a service generated, compiled (twice: the second is a cache hit), tested with pytest,
// served by uvicorn and called over HTTP; then a broken edit and an `nx affected` check.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE_HIT, expectOk, lib, type Workspace } from './workspace';

// Run from the root's multi-project jest config, a project's `testTimeout` is not applied: set it here.
jest.setTimeout(20 * 60 * 1000);

const CACHE_HIT_ALL = /Nx read the output from the cache instead of running the command for (\d+) out of \1 tasks/;

/** Polls `check` until it holds (a stopped server may finish its shutdown after nx exits). */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still false after ${timeoutMs} ms: ${check.toString()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Relative path → contents of every file under `dir` (Python's byte caches aside). */
function readTree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== '__pycache__') Object.assign(out, readTree(join(dir, entry.name), rel));
    } else {
      out[rel] = readFileSync(join(dir, entry.name), 'utf8');
    }
  }
  return out;
}

describe('a workflow service in a fresh Nx workspace', () => {
  let ws: Workspace;
  let packDir: string;
  const generated = () => join(ws.root, 'apps/hello-svc/src/hello_svc/_generated');

  beforeAll(() => {
    packDir = mkdtempSync(join(tmpdir(), 'catalyst-pack-'));
    const tarball = lib.packPlugin(packDir);
    ws = lib.createWorkspace({ tarball, nxMajor: 23 });
  });

  afterAll(() => {
    if (process.env.KEEP_E2E_WORKSPACE) {
      console.log(`workspace kept at ${ws?.root}`);
    } else {
      ws?.remove();
    }
    rmSync(packDir, { recursive: true, force: true });
  });

  it('nx add registers the plugin and emits the runtime library', () => {
    const nxJson = JSON.parse(readFileSync(join(ws.root, 'nx.json'), 'utf8')) as {
      plugins?: (string | { plugin: string })[];
    };
    const plugins = (nxJson.plugins ?? []).map((p) => (typeof p === 'string' ? p : p.plugin));
    expect(plugins).toContain('@catalyst/plugin');
    expect(existsSync(join(ws.root, 'libs/catalyst-runtime/src/catalyst_runtime/__init__.py'))).toBe(true);
    expect(readFileSync(join(ws.root, 'pyproject.toml'), 'utf8')).toContain('libs/catalyst-runtime');
    // Secrets go in .env (the service says so when one is missing): it is never committed.
    expect(readFileSync(join(ws.root, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });

  it('nx sync:check finds the fresh workspace in step with the plugin', () => {
    const record = JSON.parse(readFileSync(join(ws.root, 'libs/catalyst-runtime/catalyst-emitted.json'), 'utf8')) as {
      version: string;
    };
    expect(record.version).toBe('0.1.0');
    expect(expectOk(ws.nx('sync:check')).output).toMatch(/up to date/i);
  });

  it('nx g workflow scaffolds a service with inferred targets', () => {
    expectOk(ws.nx('g', '@catalyst/plugin:workflow', 'hello-svc', '--no-interactive'));
    expect(existsSync(join(ws.root, 'apps/hello-svc/workflows/hello.workflow.yaml'))).toBe(true);
    const project = JSON.parse(expectOk(ws.nx('show', 'project', 'hello-svc', '--json')).stdout) as {
      targets: Record<string, { cache?: boolean }>;
    };
    expect(Object.keys(project.targets)).toEqual(expect.arrayContaining(['codegen', 'serve', 'test']));
    expect(project.targets.codegen.cache).toBe(true);
    ws.commit('add hello-svc');
  });

  it('a taken name is refused and writes nothing', () => {
    const before = readFileSync(join(ws.root, 'apps/hello-svc/workflows/hello.workflow.yaml'), 'utf8');
    const result = ws.nx('g', '@catalyst/plugin:workflow', 'hello-svc', '--no-interactive');
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/hello-svc/);
    expect(readFileSync(join(ws.root, 'apps/hello-svc/workflows/hello.workflow.yaml'), 'utf8')).toBe(before);
    expect(ws.sh('git', ['status', '--porcelain']).stdout.trim()).toBe('');
  });

  it('a name Python or the workspace already uses is refused with a suggestion, and writes nothing', () => {
    for (const [name, why] of [
      ['json', /standard-library module "json".*e\.g\. "json-svc"/],
      ['redis', /uv cannot lock.*e\.g\. "redis-svc"/],
    ] as const) {
      const result = ws.nx('g', '@catalyst/plugin:workflow', name, '--no-interactive');
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(why);
    }
    expect(ws.sh('git', ['status', '--porcelain']).stdout.trim()).toBe('');
  });

  it('init again changes nothing, and does not run uv lock', () => {
    const result = expectOk(ws.nx('g', '@catalyst/plugin:init', '--no-interactive'));
    // uv lock reports "Resolved N packages" whenever it runs.
    expect(result.output).not.toMatch(/Resolved \d+ packages/);
    expect(ws.sh('git', ['status', '--porcelain']).stdout.trim()).toBe('');
  });

  it('--dry-run lists the files, writes nothing and does not run uv lock', () => {
    const result = expectOk(ws.nx('g', '@catalyst/plugin:workflow', 'dry-svc', '--dry-run', '--no-interactive'));
    expect(result.output).toMatch(/CREATE apps\/dry-svc\/workflows\/hello\.workflow\.yaml/);
    expect(result.output).toMatch(/UPDATE pyproject\.toml/);
    // uv lock reports "Resolved N packages" whenever it runs.
    expect(result.output).not.toMatch(/Resolved \d+ packages/);
    expect(existsSync(join(ws.root, 'apps/dry-svc'))).toBe(false);
    expect(ws.sh('git', ['status', '--porcelain']).stdout.trim()).toBe('');
  });

  it('codegen compiles the definitions, and the second run is a cache hit', () => {
    const first = expectOk(ws.nx('run', 'hello-svc:codegen'));
    expect(first.output).not.toMatch(CACHE_HIT);
    const module = readFileSync(join(generated(), 'hello.py'), 'utf8');
    expect(module).toContain('async def run(');
    expect(module).not.toMatch(/\b(eval|exec)\(/);
    const compiled = readTree(generated());
    expect(Object.keys(compiled)).toEqual(expect.arrayContaining(['__init__.py', 'hello.py']));

    rmSync(generated(), { recursive: true, force: true });
    const second = expectOk(ws.nx('run', 'hello-svc:codegen'));
    expect(second.output).toMatch(CACHE_HIT);
    // The cache restored the whole folder it had stored, byte for byte: every file, no more.
    expect(readTree(generated())).toEqual(compiled);
  });

  it('a new definition is compiled, and a deleted one leaves nothing behind, even from the cache', () => {
    const workflows = join(ws.root, 'apps/hello-svc/workflows');
    const extra = join(workflows, 'extra.workflow.yaml');
    writeFileSync(
      extra,
      readFileSync(join(workflows, 'hello.workflow.yaml'), 'utf8')
        .replace('id: hello', 'id: extra')
        .replace('/hello', '/extra'),
    );
    try {
      expect(expectOk(ws.nx('run', 'hello-svc:codegen')).output).not.toMatch(CACHE_HIT);
      expect(existsSync(join(generated(), 'extra.py'))).toBe(true);
    } finally {
      rmSync(extra);
    }
    // Back to the first set of definitions: a cache hit, restored exactly (no extra.py left).
    expect(expectOk(ws.nx('run', 'hello-svc:codegen')).output).toMatch(CACHE_HIT);
    expect(existsSync(join(generated(), 'extra.py'))).toBe(false);
    expect(existsSync(join(generated(), 'hello.py'))).toBe(true);
  });

  it("the service's own pytest suite passes through nx run test", () => {
    const result = expectOk(ws.nx('run', 'hello-svc:test'));
    expect(result.output).toMatch(/\d+ passed/);

    // Arguments after -- reach pytest (a failing pytest failing the task is checked below).
    expect(expectOk(ws.nx('run', 'hello-svc:test', '--', '-k', 'rejects')).output).toMatch(/1 passed, 1 deselected/);
  });

  describe('a runtime library that drifted from the plugin', () => {
    const runtimeRoot = () => join(ws.root, 'libs/catalyst-runtime');
    const initPy = () => join(runtimeRoot(), 'src/catalyst_runtime/__init__.py');
    const recordFile = () => join(runtimeRoot(), 'catalyst-emitted.json');
    // The plugin's own hashing, from the build the workspace installed.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const library = require(join(lib.pluginRoot, 'dist/utils/runtime-library')) as {
      contentHash(files: Map<string, Buffer>): string;
      libraryFilesOnDisk(root: string): Map<string, Buffer>;
    };

    /** The library as an earlier plugin version would have emitted it: another __init__.py, recorded. */
    function emitAsAnEarlierVersion(edit: (text: string) => string) {
      writeFileSync(initPy(), edit(readFileSync(initPy(), 'utf8')));
      const contentHash = library.contentHash(library.libraryFilesOnDisk(runtimeRoot()));
      writeFileSync(recordFile(), JSON.stringify({ plugin: '@catalyst/plugin', version: '0.0.1', contentHash }));
    }

    afterEach(() => ws.must('git', ['checkout', '--', 'libs/catalyst-runtime']));

    it('edited by hand: sync:check and codegen fail saying how to choose, and sync leaves the edit', () => {
      writeFileSync(initPy(), `${readFileSync(initPy(), 'utf8')}\n# patched here\n`);
      const check = ws.nx('sync:check');
      expect(check.code).not.toBe(0);
      expect(check.output).toMatch(
        /__init__\.py changed by hand, so sync does not overwrite it\. Run `nx g @catalyst\/plugin:runtime`/,
      );
      // Outside CI, Nx runs the sync generators of the tasks first and stops a non-interactive run.
      expect(ws.nx('run', 'hello-svc:codegen').code).not.toBe(0);
      ws.nx('sync');
      expect(readFileSync(initPy(), 'utf8')).toMatch(/# patched here/);
    });

    it('from an earlier plugin version: sync:check fails with the repair, nx sync repairs', () => {
      emitAsAnEarlierVersion((text) => `${text}\n# 0.0.1\n`);
      const check = ws.nx('sync:check');
      expect(check.code).not.toBe(0);
      expect(check.output).toMatch(
        /libs\/catalyst-runtime holds the runtime of @catalyst\/plugin 0\.0\.1, not of the installed 0\.1\.0.*`nx sync`/,
      );
      expectOk(ws.nx('sync'));
      expect(ws.sh('git', ['status', '--porcelain', 'libs/catalyst-runtime']).stdout.trim()).toBe('');
      expectOk(ws.nx('sync:check'));
    });

    it('reaching the tests in CI (where Nx skips sync): the ImportError comes with the repair', () => {
      emitAsAnEarlierVersion((text) =>
        text.replace('from .context import ExecutionContext, NodeScope', 'from .context import NodeScope'),
      );
      const nxBin = join(ws.root, 'node_modules/.bin/nx');
      const result = ws.sh(nxBin, ['run', 'hello-svc:test', '--skip-nx-cache'], { env: { ...ws.env, CI: 'true' } });
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/ImportError: cannot import name 'ExecutionContext' from 'catalyst_runtime'/);
      expect(result.output).toMatch(
        /hello-svc: the runtime library catalyst-runtime \(libs\/catalyst-runtime\) is not the one @catalyst\/plugin 0\.1\.0 ships .*: run `nx sync` to update it\./,
      );
    });
  });

  it('runtimeProjectName: a name that matches no project is an error naming the option; a renamed library works', () => {
    const nxJsonPath = join(ws.root, 'nx.json');
    const original = readFileSync(nxJsonPath, 'utf8');
    const withOptions = (options: object) => {
      const nxJson = JSON.parse(original) as { plugins: unknown[] };
      nxJson.plugins = nxJson.plugins.map((p) => (p === '@catalyst/plugin' ? { plugin: p, options } : p));
      writeFileSync(nxJsonPath, JSON.stringify(nxJson, null, 2));
    };
    const projectJson = join(ws.root, 'libs/catalyst-runtime/project.json');
    try {
      withOptions({ runtimeProjectName: 'catalyst-rutime' });
      const typo = ws.nx('show', 'projects');
      expect(typo.code).not.toBe(0);
      expect(typo.output).toMatch(
        /runtimeProjectName \(nx\.json, plugins → "@catalyst\/plugin" → options\) is "catalyst-rutime", which matches no project.*is the project "catalyst-runtime"/,
      );

      writeFileSync(projectJson, readFileSync(projectJson, 'utf8').replace('"catalyst-runtime"', '"py-runtime"'));
      withOptions({ runtimeProjectName: 'py-runtime' });
      expectOk(ws.nx('g', '@catalyst/plugin:workflow', 'renamed-svc', '--skipUvLock', '--no-interactive'));
      expect(existsSync(join(ws.root, 'libs/py-runtime'))).toBe(false);
      expectOk(ws.nx('graph', '--file=tmp-graph.json'));
      const graph = JSON.parse(readFileSync(join(ws.root, 'tmp-graph.json'), 'utf8')) as {
        graph: { dependencies: Record<string, { target: string }[]> };
      };
      expect(graph.graph.dependencies['renamed-svc'].map((d) => d.target)).toContain('py-runtime');
      expectOk(ws.nx('sync:check'));
    } finally {
      ws.must('git', ['checkout', '--', '.']);
      ws.must('git', ['clean', '-fdq', 'apps', 'tmp-graph.json']);
    }
  });

  it('test is cached, and re-runs when a file beside its tests or the generated code changes', () => {
    expect(expectOk(ws.nx('run', 'hello-svc:test')).output).toMatch(CACHE_HIT_ALL);

    // A conftest.py at the project root configures pytest without being under src/ or tests/.
    const conftest = join(ws.root, 'apps/hello-svc/conftest.py');
    writeFileSync(
      conftest,
      'def pytest_collection_modifyitems(items):\n    raise RuntimeError("conftest.py is an input")\n',
    );
    try {
      const result = ws.nx('run', 'hello-svc:test');
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('conftest.py is an input');
    } finally {
      rmSync(conftest);
    }

    // Generated code is git-ignored: the test target must still see a definition edit through it.
    const definition = join(ws.root, 'apps/hello-svc/workflows/hello.workflow.yaml');
    const original = readFileSync(definition, 'utf8');
    writeFileSync(definition, original.replace('Hello, ', 'Howdy, '));
    try {
      const result = ws.nx('run', 'hello-svc:test');
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('Howdy, Ada!');
    } finally {
      writeFileSync(definition, original);
    }
    expect(expectOk(ws.nx('run', 'hello-svc:test')).output).toMatch(CACHE_HIT_ALL);
  });

  it('nx run serve answers a real HTTP POST with JSON and Server-Timing', async () => {
    const port = await lib.freePort();
    const server = ws.spawnNx(['run', 'hello-svc:serve', `--port=${port}`]);
    try {
      const base = `http://127.0.0.1:${port}`;
      await lib.waitForHttp(`${base}/openapi.json`, {
        timeoutMs: 180_000,
        isAlive: () => server.child.exitCode === null,
      });
      const res = await fetch(`${base}/hello`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Ada' }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ message: 'Hello, Ada!', shout: 'ADA', length: 3 });
      expect(res.headers.get('server-timing')).toMatch(/(^|, )greet;dur=\d+(\.\d+)?/);
      expect(res.headers.get('server-timing')).toMatch(/total;dur=\d+(\.\d+)?/);

      const bad = await fetch(`${base}/hello`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(bad.status).toBe(422);
      // The answer names the missing field, not only the status.
      const { detail } = (await bad.json()) as { detail: { loc: (string | number)[]; type: string }[] };
      expect(detail.map(({ loc, type }) => ({ loc, type }))).toEqual([{ loc: ['body', 'name'], type: 'missing' }]);
    } catch (err) {
      await server.stop();
      throw new Error(`${String(err)}\n--- serve output ---\n${server.output()}`);
    }
    // Stopping Nx stops uvicorn gracefully (the app's shutdown runs, nothing force-quits), and
    // nothing is left holding the port.
    await server.stop();
    const portIsFree = async () =>
      fetch(`http://127.0.0.1:${port}/openapi.json`).then(
        () => false,
        () => true,
      );
    await eventually(portIsFree);
    await eventually(() => server.output().includes('Application shutdown complete'));
    expect(server.output()).not.toMatch(/Traceback|force quit/i);
  });

  it('nx run serve fails when the service cannot start, and says why on one line before the traceback', async () => {
    const workflows = join(ws.root, 'apps/hello-svc/workflows');
    const secretDefinition = join(workflows, 'secret.workflow.yaml');
    writeFileSync(
      secretDefinition,
      [
        'id: secret',
        'trigger: { method: POST, path: /secret }',
        'input: { type: object, properties: {} }',
        'nodes:',
        '  - id: read',
        '    type: transform',
        '    set:',
        '      key: "{{ secrets.CATALYST_E2E_MISSING_SECRET }}"',
        'output:',
        '  ok: "{{ nodes.read.key | length }}"',
        '',
      ].join('\n'),
    );
    const nxBin = join(ws.root, 'node_modules/.bin/nx');
    const serve = (port: number) => ws.sh(nxBin, ['run', 'hello-svc:serve', `--port=${port}`], { timeout: 180_000 });
    try {
      const result = serve(await lib.freePort());
      expect(result.code).not.toBe(0);
      expect(result.output).not.toMatch(/Successfully ran target serve/);
      const lines = result.output.split('\n');
      const reason = lines.findIndex((line) =>
        /hello-svc did not start: ConfigError: CATALYST_E2E_MISSING_SECRET: .*not set/.test(line),
      );
      expect(reason).toBeGreaterThanOrEqual(0);
      const traceback = lines.findIndex((line) => line.includes('Traceback (most recent call last)'));
      if (traceback >= 0) expect(reason).toBeLessThan(traceback);
    } finally {
      rmSync(secretDefinition);
    }

    // A port another process holds: uvicorn fails after the app started; still a failure, with the reason.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const port = (holder.address() as AddressInfo).port;
      const result = serve(port);
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/hello-svc did not start: .*address already in use/);
    } finally {
      holder.close();
    }

    // A port that is no TCP port is refused before anything starts.
    const bad = serve(70000);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/--port=70000 is not a TCP port/);
  });

  it('a broken definition fails codegen with file:line:col and keeps the previous output', () => {
    const definition = join(ws.root, 'apps/hello-svc/workflows/hello.workflow.yaml');
    const original = readFileSync(definition, 'utf8');
    const before = readFileSync(join(generated(), 'hello.py'), 'utf8');
    writeFileSync(definition, original.replace('{{ nodes.greet.message }}', '{{ nodes.gret.message }}'));
    try {
      const result = ws.nx('run', 'hello-svc:codegen', '--skip-nx-cache');
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/workflows\/hello\.workflow\.yaml:\d+:\d+: .*"gret".*did you mean "greet"/);
      expect(readFileSync(join(generated(), 'hello.py'), 'utf8')).toBe(before);
    } finally {
      writeFileSync(definition, original);
    }
  });

  it('serve --reload recompiles an edited definition, and a broken edit keeps the last good code serving', async () => {
    const definition = join(ws.root, 'apps/hello-svc/workflows/hello.workflow.yaml');
    const original = readFileSync(definition, 'utf8');
    const port = await lib.freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = ws.spawnNx(['run', 'hello-svc:serve', `--port=${port}`, '--reload']);
    const message = async () => {
      const res = await fetch(`${base}/hello`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Ada' }),
      });
      return res.ok ? ((await res.json()) as { message: string }).message : `HTTP ${res.status}`;
    };
    try {
      await lib.waitForHttp(`${base}/openapi.json`, {
        timeoutMs: 180_000,
        isAlive: () => server.child.exitCode === null,
      });
      expect(await message()).toBe('Hello, Ada!');

      writeFileSync(definition, original.replace('Hello, ', 'Howdy, '));
      await eventually(async () => (await message().catch(() => '')) === 'Howdy, Ada!', 60_000);

      writeFileSync(definition, original.replace('{{ nodes.greet.message }}', '{{ nodes.gret.message }}'));
      await eventually(() => server.output().includes('Still serving the last code that compiled'), 60_000);
      expect(server.output()).toMatch(/workflows\/hello\.workflow\.yaml:\d+:\d+: .*"gret"/);
      expect(await message()).toBe('Howdy, Ada!');
    } catch (err) {
      throw new Error(`${String(err)}\n--- serve output ---\n${server.output()}`);
    } finally {
      await server.stop();
      writeFileSync(definition, original);
    }
  });

  it('nx affected names only the service whose definition changed', () => {
    expectOk(ws.nx('g', '@catalyst/plugin:workflow', 'other-svc', '--no-interactive'));
    ws.commit('add other-svc');
    const definition = join(ws.root, 'apps/other-svc/workflows/hello.workflow.yaml');
    writeFileSync(definition, readFileSync(definition, 'utf8').replace('Hello, ', 'Hi, '));
    const affected = expectOk(ws.nx('show', 'projects', '--affected', '-t', 'codegen', '--base=HEAD'));
    expect(affected.stdout.trim().split('\n')).toEqual(['other-svc']);
  });

  it('in batch mode, codegen compiles every service in one process, and a broken one fails only itself', () => {
    ws.must('git', ['checkout', '--', '.']);
    const definition = join(ws.root, 'apps/other-svc/workflows/hello.workflow.yaml');
    writeFileSync(
      definition,
      readFileSync(definition, 'utf8').replace('{{ nodes.greet.message }}', '{{ nodes.gret.message }}'),
    );
    const nxBin = join(ws.root, 'node_modules/.bin/nx');
    try {
      const result = ws.sh(nxBin, ['run-many', '-t', 'codegen', '--skip-nx-cache', '--output-style=static'], {
        env: { ...ws.env, NX_BATCH_MODE: 'true' },
      });
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/workflows\/hello\.workflow\.yaml:\d+:\d+: .*"gret".*did you mean "greet"/);
      expect(result.output).toMatch(/(Generated|Up to date:) 3 files in apps\/hello-svc\/src\/hello_svc\/_generated/);
      expect(result.output).toMatch(/Failed tasks:\s*\n\s*- other-svc:codegen\s*\n\s*\n/);
      expect(existsSync(join(generated(), 'hello.py'))).toBe(true);
    } finally {
      ws.must('git', ['checkout', '--', '.']);
    }
  });

  it("starts the plugin's worker once in a run whose sync generators compute the graph again", () => {
    // Without the daemon Nx computes the project graph twice for a codegen run (the second time
    // for the sync generators); Nx ends a plugin's worker after its last hook, so the plugin's
    // postTasksExecution hook is what keeps the first worker for the second computation.
    const nxBin = join(ws.root, 'node_modules/.bin/nx');
    const result = ws.sh(nxBin, ['run-many', '-t', 'codegen', '--output-style=static'], {
      env: { ...ws.env, NX_VERBOSE_LOGGING: 'true' },
    });
    expect(result.code).toBe(0);
    // The run held codegen tasks, so Nx ran the sync generator and computed the graph again.
    expect(result.output).toMatch(/Successfully ran target codegen for (project \S+|\d+ projects)/);
    expect(result.output).toMatch(/spawned worker for "nx\/core\/project-json"/);
    const spawned = result.output.match(/\[isolated-plugin\] spawned worker for "@catalyst\/plugin"/g) ?? [];
    expect(result.output).not.toMatch(/restarting worker for "@catalyst\/plugin"/);
    expect(spawned).toHaveLength(1);
  });

  it('reports a malformed project.json of a service with its file, line and column', () => {
    const projectJson = join(ws.root, 'apps/hello-svc/project.json');
    const original = readFileSync(projectJson, 'utf8');
    try {
      writeFileSync(projectJson, original.replace(/("name": "hello-svc"),/, '$1'));
      const result = ws.nx('show', 'projects');
      expect(result.code).not.toBe(0);
      expect(result.output).toMatch(/apps\/hello-svc\/project\.json.* at \d+:\d+/);
    } finally {
      writeFileSync(projectJson, original);
    }
  });

  it('nx affected names every service when the runtime library changes', () => {
    ws.must('git', ['checkout', '--', '.']);
    const module = join(ws.root, 'libs/catalyst-runtime/src/catalyst_runtime/__init__.py');
    writeFileSync(module, `${readFileSync(module, 'utf8')}\n# edited\n`);
    const affected = expectOk(ws.nx('show', 'projects', '--affected', '-t', 'codegen', '--base=HEAD'));
    expect(affected.stdout.trim().split('\n').sort()).toEqual(['hello-svc', 'other-svc']);
  });
});
