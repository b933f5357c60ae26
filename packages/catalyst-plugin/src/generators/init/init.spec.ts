import { getProjects, readJson, readNxJson, updateNxJson, type ProjectConfiguration, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { parse } from 'smol-toml';
import { initGenerator } from './init';
import { uvLockTask } from '../../utils/uv-lock-task';
import { formatWithPrettier } from '../test-utils/format-with-prettier';

// formatFiles cannot run prettier under Jest: the stand-in formats with prettier (test-utils).
jest.mock('@nx/devkit', () => ({
  ...jest.requireActual<typeof import('@nx/devkit')>('@nx/devkit'),
  formatFiles: jest.fn((tree: Tree) => formatWithPrettier(tree)),
}));
// The lock step runs the real uv; here it is only observed.
jest.mock('../../utils/uv-lock-task', () => ({ uvLockTask: jest.fn(() => () => undefined) }));

function members(tree: Tree): unknown {
  const doc = parse(tree.read('pyproject.toml', 'utf-8') ?? '') as {
    tool?: { uv?: { workspace?: { members?: unknown } } };
  };
  return doc.tool?.uv?.workspace?.members;
}

describe('init generator', () => {
  let tree: Tree;

  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
  });

  describe('defaults', () => {
    it('registers the plugin in nx.json', async () => {
      await initGenerator(tree, {});
      expect(readNxJson(tree)?.plugins).toEqual(['@catalyst/plugin']);
    });

    it('registers the plugin once, however often it runs', async () => {
      await initGenerator(tree, {});
      await initGenerator(tree, {});
      expect(readNxJson(tree)?.plugins).toEqual(['@catalyst/plugin']);
    });

    it('keeps a registration that carries options', async () => {
      const nxJson = readNxJson(tree) ?? {};
      nxJson.plugins = [{ plugin: '@catalyst/plugin', options: { testTargetName: 'pytest' } }];
      updateNxJson(tree, nxJson);
      await initGenerator(tree, {});
      expect(readNxJson(tree)?.plugins).toEqual([
        { plugin: '@catalyst/plugin', options: { testTargetName: 'pytest' } },
      ]);
    });

    it('creates a virtual uv workspace root listing the runtime library', async () => {
      await initGenerator(tree, {});
      const doc = parse(tree.read('pyproject.toml', 'utf-8') ?? '');
      expect(doc['project']).toBeUndefined();
      expect(members(tree)).toEqual(['libs/catalyst-runtime']);
      expect(tree.read('pyproject.toml', 'utf-8')).toContain('# uv workspace root');
    });

    it('adds to an existing root pyproject.toml instead of replacing it', async () => {
      tree.write(
        'pyproject.toml',
        '# mine\n[tool.uv.workspace]\nmembers = ["tools/scripts"]\n\n[tool.ruff]\nline-length = 100\n',
      );
      await initGenerator(tree, {});
      const text = tree.read('pyproject.toml', 'utf-8') ?? '';
      expect(text).toContain('# mine');
      expect(text).toContain('line-length = 100');
      expect(members(tree)).toEqual(['tools/scripts', 'libs/catalyst-runtime']);
    });

    it('git-ignores generated code and Python environments, once', async () => {
      tree.write('.gitignore', 'node_modules\n.venv\n');
      await initGenerator(tree, {});
      await initGenerator(tree, {});
      const lines = (tree.read('.gitignore', 'utf-8') ?? '').split('\n');
      expect(lines).toContain('**/_generated/');
      expect(lines).toContain('__pycache__/');
      expect(lines.filter((l) => l.replace(/\/$/, '') === '.venv')).toHaveLength(1);
      expect(lines.filter((l) => l === '**/_generated/')).toHaveLength(1);
    });

    it('git-ignores .env, where the service tells users to keep secrets, once', async () => {
      tree.write('.gitignore', 'node_modules\n');
      await initGenerator(tree, {});
      await initGenerator(tree, {});
      expect((tree.read('.gitignore', 'utf-8') ?? '').split('\n').filter((l) => l === '.env')).toHaveLength(1);
    });

    it('leaves a .gitignore that ignores .env already as it is', async () => {
      tree.write('.gitignore', '/.env\n**/_generated/\n.venv/\n__pycache__/\n.pytest_cache/\n');
      await initGenerator(tree, {});
      expect(tree.read('.gitignore', 'utf-8')).toBe('/.env\n**/_generated/\n.venv/\n__pycache__/\n.pytest_cache/\n');
    });

    it('emits the runtime library as the project catalyst-runtime', async () => {
      await initGenerator(tree, {});
      const project = getProjects(tree).get('catalyst-runtime');
      expect(project?.root).toBe('libs/catalyst-runtime');
      expect(project?.projectType).toBe('library');
      expect(tree.exists('libs/catalyst-runtime/src/catalyst_runtime/__init__.py')).toBe(true);
    });

    it('leaves an existing runtime library alone', async () => {
      await initGenerator(tree, {});
      tree.write('libs/catalyst-runtime/src/catalyst_runtime/__init__.py', '# edited\n');
      await initGenerator(tree, {});
      expect(tree.read('libs/catalyst-runtime/src/catalyst_runtime/__init__.py', 'utf-8')).toBe('# edited\n');
    });

    it('changes nothing on a second run', async () => {
      await initGenerator(tree, {});
      const snapshot = tree.listChanges().map((c) => [c.path, c.content?.toString()]);
      await initGenerator(tree, {});
      expect(tree.listChanges().map((c) => [c.path, c.content?.toString()])).toEqual(snapshot);
    });
  });

  describe('runtimeProjectName (plugin option)', () => {
    const withRuntimeName = (name: string) =>
      updateNxJson(tree, {
        ...readNxJson(tree),
        plugins: [{ plugin: '@catalyst/plugin', options: { runtimeProjectName: name } }],
      });

    it('emits the runtime library under the configured name', async () => {
      withRuntimeName('py-runtime');
      await initGenerator(tree, {});
      expect(getProjects(tree).get('py-runtime')?.root).toBe('libs/catalyst-runtime');
      expect(getProjects(tree).has('catalyst-runtime')).toBe(false);
    });

    it('finds a renamed runtime library and leaves it alone', async () => {
      await initGenerator(tree, { runtimeDirectory: 'libs/rt' });
      const config = readJson<ProjectConfiguration>(tree, 'libs/rt/project.json');
      tree.write('libs/rt/project.json', JSON.stringify({ ...config, name: 'rt' }));
      withRuntimeName('rt');
      await initGenerator(tree, {});
      expect([...getProjects(tree).keys()]).toEqual(['rt']);
    });
  });

  describe('runtimeDirectory', () => {
    it('emits the runtime library where asked', async () => {
      await initGenerator(tree, { runtimeDirectory: 'python/runtime' });
      expect(getProjects(tree).get('catalyst-runtime')?.root).toBe('python/runtime');
      expect(readJson<ProjectConfiguration>(tree, 'python/runtime/project.json').name).toBe('catalyst-runtime');
      expect(members(tree)).toEqual(['python/runtime']);
    });
  });

  describe('skipUvLock', () => {
    beforeEach(() => jest.mocked(uvLockTask).mockClear());

    it('locks the uv workspace once, after generating', async () => {
      await initGenerator(tree, {});
      expect(uvLockTask).toHaveBeenCalledTimes(1);
    });

    it('does not lock when asked not to', async () => {
      await initGenerator(tree, { skipUvLock: true });
      expect(uvLockTask).not.toHaveBeenCalled();
    });

    it('does not lock again when a run changes no pyproject.toml and the lock file exists', async () => {
      await initGenerator(tree, {});
      tree.write('uv.lock', 'version = 1\n'); // what the first run's `uv lock` wrote
      jest.mocked(uvLockTask).mockClear();
      await initGenerator(tree, {});
      expect(uvLockTask).not.toHaveBeenCalled();
    });

    it('locks when the lock file is missing, even if nothing else changed', async () => {
      await initGenerator(tree, {});
      jest.mocked(uvLockTask).mockClear();
      await initGenerator(tree, {});
      expect(uvLockTask).toHaveBeenCalledTimes(1);
    });

    it('locks when the run adds to the uv workspace, even with a lock file', async () => {
      tree.write('uv.lock', 'version = 1\n');
      await initGenerator(tree, {});
      expect(uvLockTask).toHaveBeenCalledTimes(1);
    });
  });

  describe('skipFormat', () => {
    // As in the workflow generator's spec: a prettier that indents JSON by four shows formatting.
    beforeEach(() => {
      tree = createTreeWithEmptyWorkspace({ formatter: 'prettier' });
      tree.write('.prettierrc', JSON.stringify({ tabWidth: 4 }));
    });

    it('formats what it wrote with the workspace formatter', async () => {
      await initGenerator(tree, {});
      expect(tree.read('libs/catalyst-runtime/project.json', 'utf-8')).toMatch(/^\{\n {4}"name": "catalyst-runtime"/);
    });

    it('leaves what it wrote as it wrote it with skipFormat', async () => {
      await initGenerator(tree, { skipFormat: true });
      expect(tree.read('libs/catalyst-runtime/project.json', 'utf-8')).toMatch(/^\{\n {2}"name": "catalyst-runtime"/);
    });
  });
});
