import type { ExecutorContext } from '@nx/devkit';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CompileResult, SourceFile } from '../../compiler';
import codegenExecutor from './codegen';
import { readDefinitions } from './lib/read-definitions';
import { runCodegen } from './lib/run-codegen';

// The executor is tested against a stand-in compiler whose answer each test sets, so these specs
// pin the executor's behaviour (reading, reporting, atomic writing) whatever the compiler does.
let compileImpl: (sources: SourceFile[]) => CompileResult;
jest.mock('../../compiler', () => ({
  ...jest.requireActual<typeof import('../../compiler')>('../../compiler'),
  compileService: (sources: SourceFile[]) => compileImpl(sources),
}));

const HELLO = 'id: hello\n';

describe('codegen executor', () => {
  let workspaceRoot: string;
  let projectRoot: string;
  let generated: string;
  let logged: string[];

  function write(rel: string, contents: string) {
    mkdirSync(dirname(join(projectRoot, rel)), { recursive: true });
    writeFileSync(join(projectRoot, rel), contents);
  }

  function context(): ExecutorContext {
    return {
      root: workspaceRoot,
      cwd: workspaceRoot,
      isVerbose: false,
      projectName: 'hello-svc',
      projectsConfigurations: { version: 2, projects: { 'hello-svc': { root: 'apps/hello-svc' } } },
      nxJsonConfiguration: {},
    } as unknown as ExecutorContext;
  }

  /** Relative path → contents and mtime of every file under `dir`. */
  function readTree(dir: string, prefix = ''): Record<string, string> {
    const out: Record<string, string> = {};
    for (const entry of readdirSync(dir).sort()) {
      const full = join(dir, entry);
      const rel = prefix ? `${prefix}/${entry}` : entry;
      if (statSync(full).isDirectory()) Object.assign(out, readTree(full, rel));
      else out[rel] = `${readFileSync(full, 'utf8')}@${statSync(full).mtimeMs}`;
    }
    return out;
  }

  const succeed = (files: Record<string, string>) => () => ({
    files: Object.entries(files).map(([path, contents]) => ({ path, contents })),
    diagnostics: [],
  });

  beforeEach(() => {
    workspaceRoot = mkdtempSync(join(tmpdir(), 'catalyst-codegen-'));
    projectRoot = join(workspaceRoot, 'apps/hello-svc');
    generated = join(projectRoot, 'src/hello_svc/_generated');
    write('pyproject.toml', '[project]\nname = "hello-svc"\n');
    write('workflows/hello.workflow.yaml', HELLO);
    write('src/hello_svc/main.py', '# hand-owned\n');
    logged = [];
    jest.spyOn(console, 'info').mockImplementation((m: string) => void logged.push(m));
    jest.spyOn(console, 'error').mockImplementation((m: string) => void logged.push(m));
  });

  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(workspaceRoot, { recursive: true, force: true });
  });

  it('writes the compiled files into src/<pkg>/_generated', async () => {
    let seen: SourceFile[] | undefined;
    compileImpl = (sources) => {
      seen = sources;
      return succeed({ '__init__.py': 'from .hello import router\n', 'hello.py': 'router = None\n' })();
    };
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: true });
    expect(seen).toEqual([{ path: 'workflows/hello.workflow.yaml', text: HELLO }]);
    expect(readFileSync(join(generated, 'hello.py'), 'utf8')).toBe('router = None\n');
    expect(readFileSync(join(generated, '__init__.py'), 'utf8')).toBe('from .hello import router\n');
    expect(readFileSync(join(projectRoot, 'src/hello_svc/main.py'), 'utf8')).toBe('# hand-owned\n');
    expect(readdirSync(join(projectRoot, 'src/hello_svc')).sort()).toEqual(['_generated', 'main.py']);
  });

  it('replaces the whole folder: files no longer generated disappear', async () => {
    compileImpl = succeed({ '__init__.py': '', 'old.py': '' });
    await codegenExecutor({}, context());
    compileImpl = succeed({ '__init__.py': '', 'new.py': '' });
    await codegenExecutor({}, context());
    expect(readdirSync(generated).sort()).toEqual(['__init__.py', 'new.py']);
  });

  it('on a compile error, reports file:line:col and leaves the previous output byte-identical', async () => {
    compileImpl = succeed({ '__init__.py': 'x = 1\n', 'hello.py': 'y = 2\n' });
    await codegenExecutor({}, context());
    const before = readTree(generated);

    compileImpl = () => ({
      files: [{ path: 'hello.py', contents: 'broken' }],
      diagnostics: [
        {
          code: 'unknown_node',
          severity: 'error',
          file: 'workflows/hello.workflow.yaml',
          message: 'node "greet" references unknown node "gret"',
          position: { line: 14, column: 9 },
        },
        {
          code: 'unused',
          severity: 'warning',
          file: 'workflows/hello.workflow.yaml',
          message: 'unused input',
          position: { line: 3, column: 1 },
        },
      ],
    });
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: false });
    expect(readTree(generated)).toEqual(before);
    const output = logged.join('\n');
    expect(output).toContain('workflows/hello.workflow.yaml:14:9: node "greet" references unknown node "gret"');
    expect(output).toContain('workflows/hello.workflow.yaml:3:1: unused input');
    expect(output).toContain('1 error, 1 warning in apps/hello-svc; src/hello_svc/_generated was left untouched.');
    expect(readdirSync(join(projectRoot, 'src/hello_svc')).sort()).toEqual(['_generated', 'main.py']);
  });

  it('when the compiler crashes, fails and leaves the previous output untouched', async () => {
    compileImpl = succeed({ '__init__.py': 'x = 1\n' });
    await codegenExecutor({}, context());
    const before = readTree(generated);
    compileImpl = () => {
      throw new Error('boom');
    };
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: false });
    expect(readTree(generated)).toEqual(before);
    expect(logged.join('\n')).toContain('boom');
  });

  it('does not touch output that is already up to date', async () => {
    compileImpl = succeed({ '__init__.py': 'x = 1\n' });
    await codegenExecutor({}, context());
    const before = readTree(generated);
    await new Promise((r) => setTimeout(r, 20));
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: true });
    expect(readTree(generated)).toEqual(before);
    expect(logged.at(-1)).toContain('Up to date');
  });

  it('fails clearly when there are no definitions', async () => {
    rmSync(join(projectRoot, 'workflows'), { recursive: true });
    compileImpl = succeed({});
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: false });
    expect(logged.join('\n')).toContain('No workflow definitions in apps/hello-svc/workflows/');
  });

  it('cleans up what a crashed earlier run left behind', async () => {
    mkdirSync(join(projectRoot, 'src/hello_svc/._generated.staging-abc123'), { recursive: true });
    mkdirSync(join(projectRoot, 'src/hello_svc/._generated.retired-def456'), { recursive: true });
    compileImpl = succeed({ '__init__.py': '' });
    await codegenExecutor({}, context());
    expect(readdirSync(join(projectRoot, 'src/hello_svc')).sort()).toEqual(['_generated', 'main.py']);
  });

  it('after a crash between the two renames of a swap, puts the previous output back', async () => {
    // The state a run killed mid-swap leaves: the old tree renamed away, the new one not in yet;
    // older retired trees from earlier crashes may lie next to it. The newest is put back.
    const retire = (suffix: string, contents: string, secondsAgo: number) => {
      const dir = join(projectRoot, `src/hello_svc/._generated.retired-999999999-${suffix}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'hello.py'), contents);
      const when = Date.now() / 1000 - secondsAgo;
      utimesSync(dir, when, when);
    };
    retire('aaa', 'older = 1\n', 600);
    retire('abc', 'previous = 1\n', 5);
    retire('zzz', 'oldest = 1\n', 6000);
    mkdirSync(join(projectRoot, 'src/hello_svc/._generated.staging-999999999-def'), { recursive: true });
    compileImpl = () => ({
      files: [],
      diagnostics: [
        {
          code: 'x',
          severity: 'error',
          file: 'workflows/hello.workflow.yaml',
          message: 'bad',
          position: { line: 1, column: 1 },
        },
      ],
    });
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: false });
    expect(readFileSync(join(generated, 'hello.py'), 'utf8')).toBe('previous = 1\n');
    expect(readdirSync(join(projectRoot, 'src/hello_svc')).sort()).toEqual(['_generated', 'main.py']);
  });

  it('leaves the staging folder of a run that is still in progress alone', async () => {
    // process.ppid is alive: a concurrent writer (serve --reload next to nx run codegen).
    const busy = join(projectRoot, `src/hello_svc/._generated.staging-${process.ppid}-abc`);
    mkdirSync(busy, { recursive: true });
    compileImpl = succeed({ '__init__.py': '' });
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: true });
    expect(existsSync(busy)).toBe(true);
  });

  it('fails with a message, not a crash, when the output cannot be written', async () => {
    mkdirSync(join(projectRoot, 'src/hello_svc'), { recursive: true });
    writeFileSync(generated, 'a file where the folder should be');
    compileImpl = succeed({ '__init__.py': '' });
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: false });
    expect(logged.join('\n')).toMatch(
      /Cannot write apps\/hello-svc\/src\/hello_svc\/_generated: .*\nThe previous output was kept/,
    );
    expect(readFileSync(generated, 'utf8')).toBe('a file where the folder should be');
  });

  it('when writing the new output fails midway, the previous output survives and nothing is left behind', async () => {
    compileImpl = succeed({ '__init__.py': 'x = 1\n', 'hello.py': 'y = 2\n' });
    await codegenExecutor({}, context());
    const before = readTree(generated);
    // A write that fails once staging has begun: `pkg` is written as a file, then `pkg/b.py`
    // needs it to be a folder (as a full disk or a permission error would fail a later file).
    compileImpl = succeed({ '__init__.py': 'x = 3\n', pkg: '', 'pkg/b.py': '' });
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: false });
    expect(readTree(generated)).toEqual(before);
    expect(readdirSync(join(projectRoot, 'src/hello_svc')).sort()).toEqual(['_generated', 'main.py']);
    expect(logged.join('\n')).toMatch(
      /Cannot write apps\/hello-svc\/src\/hello_svc\/_generated: .*\nThe previous output was kept/,
    );
  });

  it('refuses generated paths that leave the output folder', async () => {
    compileImpl = succeed({ '../main.py': 'pwned' });
    await expect(codegenExecutor({}, context())).resolves.toEqual({ success: false });
    expect(logged.join('\n')).toContain('outside the output folder');
    expect(readFileSync(join(projectRoot, 'src/hello_svc/main.py'), 'utf8')).toBe('# hand-owned\n');
  });

  describe('packageName', () => {
    it('generates into the given package', async () => {
      compileImpl = succeed({ '__init__.py': '' });
      await codegenExecutor({ packageName: 'other_pkg' }, context());
      expect(existsSync(join(projectRoot, 'src/other_pkg/_generated/__init__.py'))).toBe(true);
    });
  });
});

describe('readDefinitions', () => {
  it('reads workflows/*.workflow.{yaml,yml,json} sorted, with project-relative paths', () => {
    const root = mkdtempSync(join(tmpdir(), 'catalyst-defs-'));
    try {
      mkdirSync(join(root, 'workflows/nested'), { recursive: true });
      for (const name of [
        'b.workflow.yml',
        'a.workflow.json',
        'c.workflow.yaml',
        'notes.yaml',
        'nested/d.workflow.yaml',
      ]) {
        writeFileSync(join(root, 'workflows', name), name);
      }
      expect(readDefinitions(root).map((s) => s.path)).toEqual([
        'workflows/a.workflow.json',
        'workflows/b.workflow.yml',
        'workflows/c.workflow.yaml',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('runCodegen with the real compiler', () => {
  const { compileService } = jest.requireActual<typeof import('../../compiler')>('../../compiler');
  it('compiles the sample service', () => {
    const root = mkdtempSync(join(tmpdir(), 'catalyst-real-'));
    try {
      const sample = readFileSync(
        join(__dirname, '../../generators/workflow/files/workflows/hello.workflow.yaml__tmpl__'),
        'utf8',
      );
      mkdirSync(join(root, 'workflows'));
      writeFileSync(join(root, 'workflows/hello.workflow.yaml'), sample.replace('<%= schemaPath %>', 'x.json'));
      const outcome = runCodegen(
        { root: 'apps/hello-svc', absoluteRoot: root, distributionName: 'hello-svc', packageName: 'hello_svc' },
        compileService,
      );
      expect(outcome.report).toContain('Generated');
      expect(outcome.success).toBe(true);
      expect(existsSync(join(root, 'src/hello_svc/_generated/__init__.py'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('is deterministic: same definitions, byte-identical output, wherever and in whatever order written', () => {
    const sample = readFileSync(
      join(__dirname, '../../generators/workflow/files/workflows/hello.workflow.yaml__tmpl__'),
      'utf8',
    ).replace('<%= schemaPath %>', 'x.json');
    const definitions: Record<string, string> = {
      'hello.workflow.yaml': sample,
      'bye.workflow.yaml': sample.replace('id: hello', 'id: bye').replace('/hello', '/bye'),
      'greet.workflow.yml': sample.replace('id: hello', 'id: greet').replace('/hello', '/greet'),
    };
    const generate = (order: string[]) => {
      const root = mkdtempSync(join(tmpdir(), `catalyst-determinism-${order.length}-`));
      try {
        mkdirSync(join(root, 'workflows'));
        for (const name of order) writeFileSync(join(root, 'workflows', name), definitions[name]);
        const outcome = runCodegen(
          { root: 'apps/hello-svc', absoluteRoot: root, distributionName: 'hello-svc', packageName: 'hello_svc' },
          compileService,
        );
        expect(outcome.report).toContain('from 3 definitions');
        const dir = join(root, 'src/hello_svc/_generated');
        return Object.fromEntries(
          readdirSync(dir)
            .sort()
            .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
        );
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    };
    const names = Object.keys(definitions);
    const first = generate(names);
    expect(Object.keys(first).length).toBeGreaterThan(3);
    expect(generate([...names].reverse())).toEqual(first);
    expect(JSON.stringify(first)).not.toContain(tmpdir());
  });
});
