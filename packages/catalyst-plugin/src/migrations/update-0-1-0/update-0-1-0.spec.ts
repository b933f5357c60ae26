import { addProjectConfiguration, readNxJson, updateNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pluginPackageRoot } from '../../utils/package-root';
import { copyRuntimeFiles } from '../../generators/runtime/lib/copy-runtime-files';
import ignoreEnvFiles from './ignore-env-files';
import recordRuntimeEmission from './record-runtime-emission';

const runtimeSource = join(pluginPackageRoot(), 'runtime');
const MODULE = 'src/catalyst_runtime/__init__.py';

/** A runtime library as a version before 0.1.0 emitted it: the files, no record. */
function libraryWithoutRecord(tree: Tree, root: string, name = 'catalyst-runtime'): void {
  addProjectConfiguration(tree, name, { root, projectType: 'library' });
  copyRuntimeFiles(tree, runtimeSource, root);
  tree.delete(`${root}/catalyst-emitted.json`);
}

describe('migrations of 0.1.0', () => {
  let tree: Tree;

  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
  });

  it('are registered in migrations.json, which package.json names', () => {
    const manifest = JSON.parse(readFileSync(join(pluginPackageRoot(), 'package.json'), 'utf8')) as {
      'nx-migrations'?: { migrations?: string };
      files?: string[];
    };
    expect(manifest['nx-migrations']?.migrations).toBe('./migrations.json');
    expect(manifest.files).toContain('migrations.json');
    const migrations = JSON.parse(readFileSync(join(pluginPackageRoot(), 'migrations.json'), 'utf8')) as {
      generators: Record<string, { version: string; implementation: string }>;
    };
    expect(Object.entries(migrations.generators).map(([name, m]) => [name, m.version, m.implementation])).toEqual([
      ['record-runtime-emission', '0.1.0', './dist/migrations/update-0-1-0/record-runtime-emission'],
      ['ignore-env-files', '0.1.0', './dist/migrations/update-0-1-0/ignore-env-files'],
    ]);
  });

  describe('record-runtime-emission', () => {
    it('records a library that is what this version ships, and changes nothing else', () => {
      libraryWithoutRecord(tree, 'libs/catalyst-runtime');
      const module = tree.read(`libs/catalyst-runtime/${MODULE}`, 'utf-8');
      expect(recordRuntimeEmission(tree)).toEqual([]);
      const record = JSON.parse(tree.read('libs/catalyst-runtime/catalyst-emitted.json', 'utf-8') ?? '{}') as {
        plugin: string;
        contentHash: string;
      };
      expect(record.plugin).toBe('@catalyst/plugin');
      expect(record.contentHash).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(tree.read(`libs/catalyst-runtime/${MODULE}`, 'utf-8')).toBe(module);
    });

    it("replaces an earlier version's library and names the files that differed", () => {
      libraryWithoutRecord(tree, 'libs/catalyst-runtime');
      tree.write(`libs/catalyst-runtime/${MODULE}`, '# as an earlier plugin emitted it\n');
      tree.write('libs/catalyst-runtime/src/catalyst_runtime/retired.py', 'x = 1\n');
      const nextSteps = recordRuntimeEmission(tree);
      expect(tree.read(`libs/catalyst-runtime/${MODULE}`, 'utf-8')).toBe(
        readFileSync(join(runtimeSource, MODULE), 'utf8'),
      );
      expect(tree.exists('libs/catalyst-runtime/src/catalyst_runtime/retired.py')).toBe(false);
      expect(tree.exists('libs/catalyst-runtime/catalyst-emitted.json')).toBe(true);
      expect(nextSteps).toEqual([
        expect.stringContaining(
          `libs/catalyst-runtime: the runtime library was emitted by @catalyst/plugin before 0.1.0 and is now the runtime`,
        ),
      ]);
      expect(nextSteps[0]).toContain(`(${MODULE}, src/catalyst_runtime/retired.py)`);
      expect(nextSteps[0]).toContain('git diff -- libs/catalyst-runtime');
    });

    it('asks for `uv lock` when the library pyproject.toml changed', () => {
      libraryWithoutRecord(tree, 'libs/catalyst-runtime');
      tree.write('libs/catalyst-runtime/pyproject.toml', '[project]\nname = "catalyst-runtime"\nversion = "0.0.1"\n');
      expect(recordRuntimeEmission(tree)).toEqual([
        expect.any(String),
        'libs/catalyst-runtime/pyproject.toml changed: run `uv lock` at the workspace root.',
      ]);
    });

    it('leaves a library that has a record to nx sync', () => {
      libraryWithoutRecord(tree, 'libs/catalyst-runtime');
      tree.write('libs/catalyst-runtime/catalyst-emitted.json', '{"version": "0.0.9", "contentHash": "sha256:0"}\n');
      tree.write(`libs/catalyst-runtime/${MODULE}`, '# edited by hand\n');
      expect(recordRuntimeEmission(tree)).toEqual([]);
      expect(tree.read(`libs/catalyst-runtime/${MODULE}`, 'utf-8')).toBe('# edited by hand\n');
    });

    it('finds the library under the name runtimeProjectName gives, or by its package', () => {
      const nxJson = readNxJson(tree) ?? {};
      updateNxJson(tree, {
        ...nxJson,
        plugins: [{ plugin: '@catalyst/plugin', options: { runtimeProjectName: 'py-runtime' } }],
      });
      libraryWithoutRecord(tree, 'packages/py-runtime', 'py-runtime');
      recordRuntimeEmission(tree);
      expect(tree.exists('packages/py-runtime/catalyst-emitted.json')).toBe(true);

      const other = createTreeWithEmptyWorkspace();
      libraryWithoutRecord(other, 'libs/runtime', 'renamed-runtime');
      recordRuntimeEmission(other);
      expect(other.exists('libs/runtime/catalyst-emitted.json')).toBe(true);
    });

    it('does nothing in a workspace without a runtime library', () => {
      addProjectConfiguration(tree, 'other', { root: 'libs/other' });
      expect(recordRuntimeEmission(tree)).toEqual([]);
      expect(tree.listChanges().filter((c) => c.path.startsWith('libs/'))).toEqual([
        expect.objectContaining({ path: 'libs/other/project.json' }),
      ]);
    });
  });

  describe('ignore-env-files', () => {
    it('adds .env to a .gitignore written before 0.1.0, once', () => {
      tree.write('.gitignore', 'node_modules\n**/_generated/\n.venv/\n__pycache__/\n.pytest_cache/\n');
      ignoreEnvFiles(tree);
      expect(tree.read('.gitignore', 'utf-8')).toBe(
        'node_modules\n**/_generated/\n.venv/\n__pycache__/\n.pytest_cache/\n\n# Catalyst: generated code, Python environments, local secrets\n.env\n',
      );
      ignoreEnvFiles(tree);
      expect((tree.read('.gitignore', 'utf-8') ?? '').match(/^\.env$/gm)).toHaveLength(1);
    });
  });
});
