import type { CreateNodesContext } from '@nx/devkit';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createNodes, createNodesV2, projectRootOf, WORKFLOW_GLOB } from './create-nodes';

describe('createNodesV2', () => {
  let workspaceRoot: string;
  let context: CreateNodesContext;
  const [glob, createNodesFunction] = createNodesV2;

  function write(files: Record<string, string>) {
    for (const [path, contents] of Object.entries(files)) {
      mkdirSync(dirname(join(workspaceRoot, path)), { recursive: true });
      writeFileSync(join(workspaceRoot, path), contents);
    }
  }

  beforeEach(() => {
    workspaceRoot = mkdtempSync(join(tmpdir(), 'catalyst-create-nodes-'));
    context = { nxJsonConfiguration: {}, workspaceRoot };
    write({
      'package.json': JSON.stringify({ name: 'ws', devDependencies: { '@catalyst/plugin': '0.1.0' } }),
      'apps/hello-svc/project.json': JSON.stringify({ name: 'hello-svc' }),
      'apps/hello-svc/pyproject.toml': '[project]\nname = "hello-svc"\n',
      'apps/hello-svc/workflows/hello.workflow.yaml': 'id: hello\n',
      'apps/hello-svc/workflows/bye.workflow.json': '{"id": "bye"}',
    });
  });

  afterEach(() => rmSync(workspaceRoot, { recursive: true, force: true }));

  it('matches definition files only', () => {
    expect(glob).toBe(WORKFLOW_GLOB);
    expect(createNodes).toBe(createNodesV2);
    expect(projectRootOf('apps/hello-svc/workflows/hello.workflow.yaml')).toBe('apps/hello-svc');
    expect(projectRootOf('workflows/x.workflow.yml')).toBe('.');
  });

  it('infers codegen, serve and test for a service', async () => {
    const results = await createNodesFunction(
      ['apps/hello-svc/workflows/hello.workflow.yaml', 'apps/hello-svc/workflows/bye.workflow.json'],
      undefined,
      context,
    );
    expect(results).toMatchSnapshot();
  });

  it('infers serve as an ordinary task, so that Nx fails the run when the service does not start', async () => {
    // Nx 23 reports a continuous task run on its own as a success whatever its exit code.
    const [[, result]] = await createNodesFunction(
      ['apps/hello-svc/workflows/hello.workflow.yaml'],
      undefined,
      context,
    );
    expect(result.projects?.['apps/hello-svc']?.targets?.['serve'].continuous).toBeUndefined();
  });

  it('fails naming the file and line when a service pyproject.toml is not valid TOML', async () => {
    write({ 'apps/hello-svc/pyproject.toml': '[project]\nname = "hello-svc\n' });
    // Nx reports each file's error (AggregateCreateNodesError) and stops: uv could not read the file either.
    let failure: { errors?: [string, Error][] } = {};
    try {
      await createNodesFunction(['apps/hello-svc/workflows/hello.workflow.yaml'], undefined, context);
    } catch (e) {
      failure = e as typeof failure;
    }
    expect(failure.errors?.map(([file, error]) => [file, error.message])).toEqual([
      [
        'apps/hello-svc/workflows/hello.workflow.yaml',
        expect.stringMatching(/^apps\/hello-svc\/pyproject\.toml:2:\d+: not valid TOML/),
      ],
    ]);
  });

  it('answers once per project however many definitions it has', async () => {
    const results = await createNodesFunction(
      ['apps/hello-svc/workflows/hello.workflow.yaml', 'apps/hello-svc/workflows/bye.workflow.json'],
      undefined,
      context,
    );
    expect(results.map(([file]) => file)).toEqual(['apps/hello-svc/workflows/bye.workflow.json']);
  });

  it('honours the target name options', async () => {
    const [[, result]] = await createNodesFunction(
      ['apps/hello-svc/workflows/hello.workflow.yaml'],
      { codegenTargetName: 'generate', serveTargetName: 'dev', testTargetName: 'pytest' },
      context,
    );
    const targets = result.projects?.['apps/hello-svc']?.targets ?? {};
    expect(Object.keys(targets).sort()).toEqual(['dev', 'generate', 'pytest']);
    expect(targets['dev'].dependsOn).toEqual(['generate']);
    expect(targets['pytest'].dependsOn).toEqual(['generate']);
  });

  it('derives the generated package from pyproject [project].name', async () => {
    write({
      'apps/odd/project.json': JSON.stringify({ name: 'odd' }),
      'apps/odd/pyproject.toml': '[project]\nname = "Odd.Service"\n',
      'apps/odd/workflows/a.workflow.yml': 'id: a\n',
    });
    const [[, result]] = await createNodesFunction(['apps/odd/workflows/a.workflow.yml'], undefined, context);
    const codegen = result.projects?.['apps/odd']?.targets?.['codegen'];
    expect(codegen?.options).toEqual({ packageName: 'odd_service' });
    // Nx interpolates {options.packageName}, so an override in project.json moves the cached output too.
    expect(codegen?.outputs).toEqual(['{projectRoot}/src/{options.packageName}/_generated']);
  });

  it('names a project that has only a pyproject.toml', async () => {
    write({
      'services/billing/pyproject.toml': '[project]\nname = "billing-svc"\n',
      'services/billing/workflows/a.workflow.yaml': 'id: a\n',
    });
    const [[, result]] = await createNodesFunction(['services/billing/workflows/a.workflow.yaml'], undefined, context);
    expect(result.projects?.['services/billing']?.name).toBe('billing-svc');
    expect(result.projects?.['apps/hello-svc']).toBeUndefined();
  });

  it('ignores definitions outside a project, and a virtual uv workspace root', async () => {
    write({
      'pyproject.toml': '[tool.uv.workspace]\nmembers = []\n',
      'workflows/stray.workflow.yaml': 'id: stray\n',
      'docs/examples/workflows/x.workflow.yaml': 'id: x\n',
    });
    const results = await createNodesFunction(
      ['workflows/stray.workflow.yaml', 'docs/examples/workflows/x.workflow.yaml'],
      undefined,
      context,
    );
    expect(results).toEqual([]);
  });

  it('hashes everything a pytest run reads, and the runtime through the project graph', async () => {
    const [[, result]] = await createNodesFunction(
      ['apps/hello-svc/workflows/hello.workflow.yaml'],
      undefined,
      context,
    );
    const inputs = result.projects?.['apps/hello-svc']?.targets?.['test'].inputs;
    // 'default' is the whole project folder: conftest.py, pytest.ini or data files beside src/
    // and tests/ must invalidate the cached result too.
    expect(inputs).toEqual(
      expect.arrayContaining(['default', '^default', '{workspaceRoot}/uv.lock', '{workspaceRoot}/.python-version']),
    );
    expect(inputs).toContainEqual({ dependentTasksOutputFiles: '**/*.py', transitive: true });
  });

  it("takes the runtime's production files when the workspace defines a production input", async () => {
    const withProduction = { ...context, nxJsonConfiguration: { namedInputs: { production: ['default'] } } };
    const [[, result]] = await createNodesFunction(
      ['apps/hello-svc/workflows/hello.workflow.yaml'],
      undefined,
      withProduction,
    );
    const inputs = result.projects?.['apps/hello-svc']?.targets?.['test'].inputs;
    expect(inputs).toContain('^production');
    expect(inputs).not.toContain('^default');
  });

  it('leaves the plugin version out of the inputs when it is not an npm dependency', async () => {
    write({ 'package.json': JSON.stringify({ name: 'ws' }) });
    const [[, result]] = await createNodesFunction(
      ['apps/hello-svc/workflows/hello.workflow.yaml'],
      undefined,
      context,
    );
    expect(result.projects?.['apps/hello-svc']?.targets?.['codegen'].inputs).toEqual([
      '{projectRoot}/workflows/**/*',
      '{projectRoot}/pyproject.toml',
    ]);
  });

  describe('the on-disk cache of what each project root holds', () => {
    const file = 'apps/hello-svc/workflows/hello.workflow.yaml';
    const dataDir = () => join(workspaceRoot, '.nx', 'workspace-data');
    const cacheFiles = () => readdirSync(dataDir()).filter((f) => f.startsWith('catalyst-projects-'));
    const codegenOf = async (options?: object) => {
      const [[, result]] = await createNodesFunction([file], options, context);
      return result.projects?.['apps/hello-svc']?.targets?.['codegen'];
    };
    /** Rewrites every cached entry's package, so that an answer read from the cache can be told from a fresh one. */
    const markCachedEntries = () => {
      for (const name of cacheFiles()) {
        const path = join(dataDir(), name);
        const entries = JSON.parse(readFileSync(path, 'utf8')) as Record<
          string,
          { value: { service: { packageName: string } } | null }
        >;
        for (const { value } of Object.values(entries)) if (value) value.service.packageName = 'from_the_cache';
        writeFileSync(path, JSON.stringify(entries));
      }
    };

    it('answers the next computation from the cache, written whole in the workspace data directory', async () => {
      expect((await codegenOf())?.options).toEqual({ packageName: 'hello_svc' });
      expect(cacheFiles()).toHaveLength(1);
      expect(readdirSync(dataDir()).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      markCachedEntries();
      expect((await codegenOf())?.options).toEqual({ packageName: 'from_the_cache' });
    });

    it('reads a root again when a file it read changed', async () => {
      await codegenOf();
      markCachedEntries();
      write({ 'apps/hello-svc/pyproject.toml': '[project]\nname = "hello-renamed"\n' });
      expect((await codegenOf())?.options).toEqual({ packageName: 'hello_renamed' });
    });

    it('builds the targets from the cached entry under the options of this computation', async () => {
      await codegenOf();
      markCachedEntries();
      const [[, result]] = await createNodesFunction([file], { codegenTargetName: 'generate' }, context);
      expect(result.projects?.['apps/hello-svc']?.targets?.['generate']?.options).toEqual({
        packageName: 'from_the_cache',
      });
      expect(cacheFiles()).toHaveLength(1);
    });

    it('reads nothing from the cache under NX_CACHE_PROJECT_GRAPH=false, and survives a broken cache file', async () => {
      await codegenOf();
      markCachedEntries();
      process.env.NX_CACHE_PROJECT_GRAPH = 'false';
      try {
        expect((await codegenOf())?.options).toEqual({ packageName: 'hello_svc' });
      } finally {
        delete process.env.NX_CACHE_PROJECT_GRAPH;
      }
      for (const name of cacheFiles()) writeFileSync(join(dataDir(), name), '{"apps/hello-svc": ');
      expect((await codegenOf())?.options).toEqual({ packageName: 'hello_svc' });
    });
  });
});
