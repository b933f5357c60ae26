import { getProjects, readJson, readNxJson, updateNxJson, type ProjectConfiguration, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pluginPackageRoot } from '../../utils/package-root';
import { copyRuntimeFiles } from './lib/copy-runtime-files';
import { runtimeGenerator } from './runtime';
import { uvLockTask } from '../../utils/uv-lock-task';
import { formatWithPrettier } from '../test-utils/format-with-prettier';

// formatFiles cannot run prettier under Jest: the stand-in formats with prettier (test-utils).
jest.mock('@nx/devkit', () => ({
  ...jest.requireActual<typeof import('@nx/devkit')>('@nx/devkit'),
  formatFiles: jest.fn((tree: Tree) => formatWithPrettier(tree)),
}));
// The lock step runs the real uv; here it is only observed.
jest.mock('../../utils/uv-lock-task', () => ({ uvLockTask: jest.fn(() => () => undefined) }));

const runtimeSource = join(pluginPackageRoot(), 'runtime');

function packageFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir)
    .filter((e) => e !== '__pycache__')
    .flatMap((e) => {
      const full = join(dir, e);
      const rel = prefix ? `${prefix}/${e}` : e;
      return statSync(full).isDirectory() ? packageFiles(full, rel) : [rel];
    });
}

describe('runtime generator', () => {
  let tree: Tree;

  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
  });

  describe('defaults', () => {
    it('creates the library project', async () => {
      await runtimeGenerator(tree, {});
      const projectJson = readJson<ProjectConfiguration>(tree, 'libs/catalyst-runtime/project.json');
      expect(projectJson).toMatchObject({ name: 'catalyst-runtime', projectType: 'library', tags: [] });
    });

    it('copies the runtime package byte for byte, without caches', async () => {
      await runtimeGenerator(tree, {});
      const files = packageFiles(join(runtimeSource, 'src/catalyst_runtime')).filter((f) => !f.endsWith('.pyc'));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        const written = tree.read(`libs/catalyst-runtime/src/catalyst_runtime/${file}`);
        expect(written?.equals(readFileSync(join(runtimeSource, 'src/catalyst_runtime', file)))).toBe(true);
      }
      expect(
        tree.read('libs/catalyst-runtime/pyproject.toml')?.equals(readFileSync(join(runtimeSource, 'pyproject.toml'))),
      ).toBe(true);
      expect(tree.exists('libs/catalyst-runtime/README.md')).toBe(true);
      expect(tree.exists('libs/catalyst-runtime/tests')).toBe(false);
      expect(tree.listChanges().some((c) => c.path.includes('__pycache__'))).toBe(false);
    });

    it('adds the library to the uv workspace', async () => {
      await runtimeGenerator(tree, {});
      expect(tree.read('pyproject.toml', 'utf-8')).toContain('"libs/catalyst-runtime"');
    });

    it('updates an existing library in place', async () => {
      await runtimeGenerator(tree, {});
      tree.write('libs/catalyst-runtime/src/catalyst_runtime/context.py', '# stale\n');
      tree.write('libs/catalyst-runtime/src/catalyst_runtime/removed_module.py', '# no longer shipped\n');
      await runtimeGenerator(tree, {});
      expect(tree.read('libs/catalyst-runtime/src/catalyst_runtime/context.py', 'utf-8')).not.toBe('# stale\n');
      expect(tree.exists('libs/catalyst-runtime/src/catalyst_runtime/removed_module.py')).toBe(false);
    });
  });

  describe('directory', () => {
    it('creates the library in the given folder', async () => {
      await runtimeGenerator(tree, { directory: 'shared/py-runtime/' });
      expect(getProjects(tree).get('catalyst-runtime')?.root).toBe('shared/py-runtime');
      expect(tree.exists('shared/py-runtime/src/catalyst_runtime/__init__.py')).toBe(true);
    });

    it('updates a library in a custom folder without being told where it is', async () => {
      await runtimeGenerator(tree, { directory: 'shared/py-runtime' });
      tree.write('shared/py-runtime/src/catalyst_runtime/context.py', '# stale\n');
      await runtimeGenerator(tree, {});
      expect(tree.read('shared/py-runtime/src/catalyst_runtime/context.py', 'utf-8')).not.toBe('# stale\n');
      expect(tree.exists('libs/catalyst-runtime')).toBe(false);
    });

    it('refuses a second copy elsewhere', async () => {
      await runtimeGenerator(tree, {});
      await expect(runtimeGenerator(tree, { directory: 'other/place' })).rejects.toThrow(
        'already exists in libs/catalyst-runtime',
      );
    });

    it('names the option when the folder holds the library under a name runtimeProjectName does not give', async () => {
      await runtimeGenerator(tree, {});
      updateNxJson(tree, {
        ...readNxJson(tree),
        plugins: [{ plugin: '@catalyst/plugin', options: { runtimeProjectName: 'rt' } }],
      });
      await expect(runtimeGenerator(tree, {})).rejects.toThrow(
        'libs/catalyst-runtime holds the project "catalyst-runtime", but runtimeProjectName (nx.json, plugins → "@catalyst/plugin" → options) is "rt".',
      );
    });

    it('refuses a folder that holds something else', async () => {
      tree.write('libs/catalyst-runtime/notes.txt', 'mine');
      await expect(runtimeGenerator(tree, {})).rejects.toThrow('not empty');
    });
  });

  describe('tags', () => {
    it('sets the tags', async () => {
      await runtimeGenerator(tree, { tags: 'scope:shared, type:runtime' });
      expect(readJson<ProjectConfiguration>(tree, 'libs/catalyst-runtime/project.json').tags).toEqual([
        'scope:shared',
        'type:runtime',
      ]);
    });
  });

  describe('skipUvLock', () => {
    beforeEach(() => jest.mocked(uvLockTask).mockClear());

    it('locks the uv workspace once, after generating', async () => {
      await runtimeGenerator(tree, {});
      expect(uvLockTask).toHaveBeenCalledTimes(1);
    });

    it('does not lock when asked not to', async () => {
      await runtimeGenerator(tree, { skipUvLock: true });
      expect(uvLockTask).not.toHaveBeenCalled();
    });

    it('does not lock again when a run changes no pyproject.toml and the lock file exists', async () => {
      await runtimeGenerator(tree, {});
      tree.write('uv.lock', 'version = 1\n');
      jest.mocked(uvLockTask).mockClear();
      await runtimeGenerator(tree, {});
      expect(uvLockTask).not.toHaveBeenCalled();
    });
  });

  describe('skipFormat', () => {
    // A prettier that indents JSON by four shows formatting.
    beforeEach(() => {
      tree = createTreeWithEmptyWorkspace({ formatter: 'prettier' });
      tree.write('.prettierrc', JSON.stringify({ tabWidth: 4 }));
    });

    it('formats what it wrote with the workspace formatter', async () => {
      await runtimeGenerator(tree, {});
      expect(tree.read('libs/catalyst-runtime/project.json', 'utf-8')).toMatch(/^\{\n {4}"name": "catalyst-runtime"/);
    });

    it('leaves what it wrote as it wrote it with skipFormat', async () => {
      await runtimeGenerator(tree, { skipFormat: true });
      expect(tree.read('libs/catalyst-runtime/project.json', 'utf-8')).toMatch(/^\{\n {2}"name": "catalyst-runtime"/);
    });
  });
});

describe('copyRuntimeFiles', () => {
  let source: string;

  beforeEach(() => {
    source = mkdtempSync(join(tmpdir(), 'catalyst-runtime-src-'));
    const write = (rel: string, contents: string | Buffer) => {
      mkdirSync(dirname(join(source, rel)), { recursive: true });
      writeFileSync(join(source, rel), contents);
    };
    write('pyproject.toml', '[project]\nname = "catalyst-runtime"\n');
    write('src/catalyst_runtime/__init__.py', '');
    write('src/catalyst_runtime/data.bin', Buffer.from([0, 255, 10, 13]));
    write('src/catalyst_runtime/__pycache__/x.cpython-311.pyc', 'cache');
    write('tests/test_x.py', 'def test(): ...\n');
  });

  afterEach(() => rmSync(source, { recursive: true, force: true }));

  it('copies exactly the shipped files, binary-safe, skipping caches and tests', () => {
    const tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
    const copied = copyRuntimeFiles(tree, source, 'libs/rt');
    expect(copied).toEqual(['pyproject.toml', 'src/catalyst_runtime/__init__.py', 'src/catalyst_runtime/data.bin']);
    expect(tree.read('libs/rt/src/catalyst_runtime/data.bin')).toEqual(Buffer.from([0, 255, 10, 13]));
  });

  it('records the plugin version and the content hash of what it copied', () => {
    const tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
    copyRuntimeFiles(tree, runtimeSource, 'libs/rt');
    const record = readJson<{ plugin: string; version: string; contentHash: string }>(
      tree,
      'libs/rt/catalyst-emitted.json',
    );
    expect(record.plugin).toBe('@catalyst/plugin');
    expect(record.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(record.contentHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('explains a missing runtime folder', () => {
    const tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
    expect(() => copyRuntimeFiles(tree, join(source, 'nope'), 'libs/rt')).toThrow('Reinstall @catalyst/plugin');
  });
});
