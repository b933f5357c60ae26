import { readJson, updateNxJson, readNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { parse } from 'smol-toml';
import { EMITTED_RECORD_FILE, type EmittedRecord } from '../../utils/runtime-library';
import { runtimeGenerator } from '../runtime/runtime';
import { syncWorkspace, type SyncProject } from './sync';

jest.mock('../../utils/uv-lock-task', () => ({ uvLockTask: jest.fn(() => () => undefined) }));

const RUNTIME = 'libs/catalyst-runtime';
const MODULE = `${RUNTIME}/src/catalyst_runtime/__init__.py`;
const codegen = { codegen: { executor: '@catalyst/plugin:codegen' } };

describe('sync generator', () => {
  let tree: Tree;
  let projects: Record<string, SyncProject>;

  function service(name: string, pyproject?: string) {
    tree.write(
      `apps/${name}/pyproject.toml`,
      pyproject ??
        `[project]\nname = "${name}"\ndependencies = ["catalyst-runtime"]\n\n[tool.uv.sources]\ncatalyst-runtime = { workspace = true }\n`,
    );
    projects[name] = { root: `apps/${name}`, targets: codegen };
  }

  /** Pretends the library was emitted by another plugin version, whose files differ. */
  function emittedByAnEarlierVersion() {
    tree.write(MODULE, `${tree.read(MODULE, 'utf-8')}\n# an earlier version\n`);
    // Hash the library as it is now, the way an earlier plugin's emission would have recorded it.
    const record = readJson<EmittedRecord>(tree, `${RUNTIME}/${EMITTED_RECORD_FILE}`);
    tree.write(`${RUNTIME}/${EMITTED_RECORD_FILE}`, JSON.stringify({ ...record, version: '0.0.1', contentHash: 'x' }));
    const hash = jest.requireActual<typeof import('../../utils/runtime-library')>('../../utils/runtime-library');
    const present = hash.contentHash(hash.libraryFilesInTree(tree, RUNTIME));
    tree.write(
      `${RUNTIME}/${EMITTED_RECORD_FILE}`,
      JSON.stringify({ ...record, version: '0.0.1', contentHash: present }),
    );
  }

  beforeEach(async () => {
    tree = createTreeWithEmptyWorkspace();
    await runtimeGenerator(tree, { skipFormat: true, skipUvLock: true });
    projects = { 'catalyst-runtime': { root: RUNTIME } };
    service('a-svc');
    tree.write('pyproject.toml', '[tool.uv.workspace]\nmembers = ["libs/catalyst-runtime", "apps/*"]\n');
  });

  describe('a workspace in step', () => {
    it('changes nothing and says nothing', () => {
      expect(syncWorkspace(tree, projects)).toEqual({});
      expect(tree.listChanges().filter((c) => c.type !== 'CREATE')).toEqual([]);
    });
  });

  describe('the runtime library', () => {
    it('is replaced when it is what an earlier plugin version emitted', () => {
      const shipped = tree.read(MODULE, 'utf-8');
      emittedByAnEarlierVersion();
      const result = syncWorkspace(tree, projects);
      expect(result.outOfSyncMessage).toMatch(
        /libs\/catalyst-runtime holds the runtime of @catalyst\/plugin 0\.0\.1, not of the installed .*`nx sync`/,
      );
      expect(tree.read(MODULE, 'utf-8')).toBe(shipped);
      expect(syncWorkspace(tree, projects)).toEqual({});
    });

    it('is reported, never overwritten, when it was edited by hand', () => {
      tree.write(MODULE, `${tree.read(MODULE, 'utf-8')}\n# mine\n`);
      expect(() => syncWorkspace(tree, projects)).toThrow(
        /src\/catalyst_runtime\/__init__\.py changed by hand, so sync does not overwrite it\. Run `nx g @catalyst\/plugin:runtime`/,
      );
      expect(tree.read(MODULE, 'utf-8')).toMatch(/# mine/);
    });

    it('gets its record when it matches the plugin but has none', () => {
      tree.delete(`${RUNTIME}/${EMITTED_RECORD_FILE}`);
      expect(syncWorkspace(tree, projects).outOfSyncMessage).toMatch(/does not record the runtime/);
      expect(tree.exists(`${RUNTIME}/${EMITTED_RECORD_FILE}`)).toBe(true);
    });

    it('is looked up under runtimeProjectName, and a name that matches no project is an error naming the option', () => {
      projects = { rt: { root: RUNTIME }, 'a-svc': projects['a-svc'] };
      updateNxJson(tree, {
        ...readNxJson(tree),
        plugins: [{ plugin: '@catalyst/plugin', options: { runtimeProjectName: 'rt' } }],
      });
      expect(syncWorkspace(tree, projects)).toEqual({});
      updateNxJson(tree, {
        ...readNxJson(tree),
        plugins: [{ plugin: '@catalyst/plugin', options: { runtimeProjectName: 'rtt' } }],
      });
      expect(() => syncWorkspace(tree, projects)).toThrow(/No project is named "rtt".*runtimeProjectName \(nx\.json/);
    });
  });

  describe('the uv workspace', () => {
    it('gains the services and the library it does not list', () => {
      tree.write('pyproject.toml', '[tool.uv.workspace]\nmembers = ["libs/catalyst-runtime"]\n');
      service('b-svc');
      const result = syncWorkspace(tree, projects);
      expect(result.outOfSyncMessage).toMatch(/misses apps\/a-svc, apps\/b-svc/);
      expect(result.callback).toBeDefined();
      expect(tree.read('pyproject.toml', 'utf-8')).toMatch(/"apps\/a-svc",\s*"apps\/b-svc"/);
      expect(syncWorkspace(tree, projects)).toEqual({});
    });
  });

  describe("a service's dependency on the runtime", () => {
    it('is restored when taken out, with its uv workspace source', () => {
      service('b-svc', '[project]\nname = "b-svc"\ndependencies = ["fastapi"]\n');
      expect(syncWorkspace(tree, projects).outOfSyncMessage).toMatch(/b-svc does not depend on catalyst-runtime/);
      expect(parse(tree.read('apps/b-svc/pyproject.toml', 'utf-8') ?? '')).toEqual({
        project: { name: 'b-svc', dependencies: ['fastapi', 'catalyst-runtime'] },
        tool: { uv: { sources: { 'catalyst-runtime': { workspace: true } } } },
      });
      expect(syncWorkspace(tree, projects)).toEqual({});
    });

    it('is an error naming the file and line when the pyproject.toml is not TOML', () => {
      service('b-svc', '[project]\nname = "b-svc\n');
      expect(() => syncWorkspace(tree, projects)).toThrow(/^apps\/b-svc\/pyproject\.toml:2:\d+: not valid TOML/);
    });
  });
});
