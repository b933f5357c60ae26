import {
  addProjectConfiguration,
  getProjects,
  readJson,
  readNxJson,
  type ProjectConfiguration,
  type Tree,
} from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { parse } from 'smol-toml';
import { schemaPathFor } from './lib/create-files';
import { workflowGenerator } from './workflow';
import { uvLockTask } from '../../utils/uv-lock-task';
import { formatWithPrettier } from '../test-utils/format-with-prettier';

// formatFiles cannot run prettier under Jest: the stand-in formats with prettier (test-utils).
jest.mock('@nx/devkit', () => ({
  ...jest.requireActual<typeof import('@nx/devkit')>('@nx/devkit'),
  formatFiles: jest.fn((tree: Tree) => formatWithPrettier(tree)),
}));
// The lock step runs the real uv; here it is only observed.
jest.mock('../../utils/uv-lock-task', () => ({ uvLockTask: jest.fn(() => () => undefined) }));

const SAMPLE = `# yaml-language-server: $schema=../../../node_modules/@catalyst/plugin/schema/workflow.schema.json
id: hello
trigger: { method: POST, path: /hello }
input:
  type: object
  properties:
    name: { type: string, minLength: 1 }
    punctuation: { type: string, default: "!" }
  required: [name]
nodes:
  - id: greet
    type: transform
    set:
      message: "Hello, {{ input.name }}{{ input.punctuation }}"
      shout: "{{ input.name | upper }}"
output:
  message: "{{ nodes.greet.message }}"
  shout: "{{ nodes.greet.shout }}"
  length: "{{ input.name | length }}"
`;

function changes(tree: Tree): string[] {
  return tree.listChanges().map((c) => `${c.type} ${c.path}`);
}

function rootMembers(tree: Tree): unknown {
  const doc = parse(tree.read('pyproject.toml', 'utf-8') ?? '') as {
    tool?: { uv?: { workspace?: { members?: unknown } } };
  };
  return doc.tool?.uv?.workspace?.members;
}

describe('workflow generator', () => {
  let tree: Tree;

  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
  });

  describe('name', () => {
    it('creates a project.json with the name and no targets (they are inferred)', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      const projectJson = readJson<ProjectConfiguration>(tree, 'apps/hello-svc/project.json');
      expect(projectJson).toMatchObject({ name: 'hello-svc', tags: [], targets: {} });
      expect(projectJson.root).toBeUndefined();
    });

    it('writes the sample definition exactly', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      expect(tree.read('apps/hello-svc/workflows/hello.workflow.yaml', 'utf-8')).toBe(SAMPLE);
    });

    it('writes a pyproject.toml that depends on the runtime as a uv workspace member', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      const doc = parse(tree.read('apps/hello-svc/pyproject.toml', 'utf-8') ?? '') as {
        project: unknown;
        tool: { uv: { sources: unknown } };
        'dependency-groups': { dev: string[] };
        'build-system': unknown;
      };
      expect(doc['project']).toMatchObject({
        name: 'hello-svc',
        'requires-python': '>=3.11',
        dependencies: ['catalyst-runtime'],
      });
      expect(doc['tool'].uv.sources).toEqual({ 'catalyst-runtime': { workspace: true } });
      expect(doc['dependency-groups'].dev.map((d: string) => d.split(/[<>=]/)[0])).toEqual(['pytest', 'httpx']);
      expect(doc['build-system']).toEqual({ requires: ['uv_build>=0.13,<0.14'], 'build-backend': 'uv_build' });
    });

    it('writes the hand-owned entry point in the Python package', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      expect(tree.exists('apps/hello-svc/src/hello_svc/__init__.py')).toBe(true);
      const main = tree.read('apps/hello-svc/src/hello_svc/main.py', 'utf-8');
      expect(main).toContain('from catalyst_runtime import create_app\n\nfrom hello_svc._generated import router\n');
      expect(main).toContain('app = create_app(router, title="hello-svc")\n');
    });

    it('writes a pytest suite that calls the sample over HTTP', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      const test = tree.read('apps/hello-svc/tests/test_hello.py', 'utf-8') ?? '';
      expect(test).toContain('running_server("hello_svc.main:app")');
      expect(test).toContain('{"message": "Hello, Ada!", "shout": "ADA", "length": 3}');
      expect(test).toContain('server-timing');
      expect(test).toContain('status_code == 422');
      expect(test).toContain('== [["body", "name"]]'); // the 422 names the field, not only the status
    });

    it('adds the service to the uv workspace', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      await workflowGenerator(tree, { name: 'other-svc' });
      expect(rootMembers(tree)).toEqual(['libs/catalyst-runtime', 'apps/hello-svc', 'apps/other-svc']);
    });

    it('sets the workspace up first when it is not', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      expect(readNxJson(tree)?.plugins).toEqual(['@catalyst/plugin']);
      expect(getProjects(tree).has('catalyst-runtime')).toBe(true);
      expect(tree.read('.gitignore', 'utf-8')).toContain('**/_generated/');
    });

    it.each([
      ['HelloSvc', 'kebab-case'],
      ['hello_svc', 'kebab-case'],
      ['1svc', 'kebab-case'],
      ['hello--svc', 'kebab-case'],
      ['', 'kebab-case'],
      ['class', 'Python keyword'],
      ['catalyst-runtime', 'the Python distribution "catalyst-runtime"'],
      ['json', 'standard-library module "json"'],
      ['http', 'standard-library module "http"'],
      ['email', 'standard-library module "email"'],
      ['typing', 'standard-library module "typing"'],
      ['asyncio', 'standard-library module "asyncio"'],
      ['redis', 'uv cannot lock'],
      ['python-dotenv', 'uv cannot lock'],
      ['dotenv', 'would shadow a package the service imports'],
    ])('refuses the name %j (%s) and writes nothing', async (name, message) => {
      const before = changes(tree);
      await expect(workflowGenerator(tree, { name })).rejects.toThrow(message);
      expect(changes(tree)).toEqual(before);
    });

    it('refuses a name an existing project has, and writes nothing', async () => {
      addProjectConfiguration(tree, 'taken', { root: 'libs/taken' });
      const before = changes(tree);
      await expect(workflowGenerator(tree, { name: 'taken' })).rejects.toThrow(
        'A project named "taken" already exists (in libs/taken)',
      );
      expect(changes(tree)).toEqual(before);
    });

    it('refuses a name a uv workspace member already has in its pyproject.toml, and writes nothing', async () => {
      // A service inferred from pyproject.toml alone: no project.json, so getProjects() misses it.
      tree.write('pyproject.toml', '[tool.uv.workspace]\nmembers = ["services/*"]\n');
      tree.write('services/billing/pyproject.toml', '[project]\nname = "Billing_Svc"\n');
      const before = changes(tree);
      await expect(workflowGenerator(tree, { name: 'billing-svc' })).rejects.toThrow(
        'A Python project named "billing-svc" already exists in the uv workspace (services/billing/pyproject.toml)',
      );
      expect(changes(tree)).toEqual(before);
    });
  });

  describe('directory', () => {
    it('defaults to apps/<name>', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      expect(getProjects(tree).get('hello-svc')?.root).toBe('apps/hello-svc');
    });

    it('creates the service in the given folder', async () => {
      await workflowGenerator(tree, { name: 'orders', directory: './services/shop/orders/' });
      expect(getProjects(tree).get('orders')?.root).toBe('services/shop/orders');
      expect(tree.exists('services/shop/orders/src/orders/main.py')).toBe(true);
      expect(rootMembers(tree)).toContain('services/shop/orders');
    });

    it('points $schema at the installed plugin from the definition folder', async () => {
      await workflowGenerator(tree, { name: 'orders', directory: 'services/shop/orders' });
      expect(tree.read('services/shop/orders/workflows/hello.workflow.yaml', 'utf-8')).toMatch(
        /^# yaml-language-server: \$schema=\.\.\/\.\.\/\.\.\/\.\.\/node_modules\/@catalyst\/plugin\/schema\/workflow\.schema\.json\n/,
      );
      expect(schemaPathFor('svc')).toBe('../../node_modules/@catalyst/plugin/schema/workflow.schema.json');
    });

    it('refuses a folder that is not empty, and writes nothing', async () => {
      tree.write('apps/hello-svc/README.md', 'mine');
      const before = changes(tree);
      await expect(workflowGenerator(tree, { name: 'hello-svc' })).rejects.toThrow('not empty');
      expect(changes(tree)).toEqual(before);
    });

    it.each(['/abs/path', '../outside', '.'])('refuses %j', async (directory) => {
      await expect(workflowGenerator(tree, { name: 'hello-svc', directory })).rejects.toThrow('--directory');
    });
  });

  describe('tags', () => {
    it('sets the tags', async () => {
      await workflowGenerator(tree, { name: 'hello-svc', tags: 'scope:hello,type:service' });
      expect(readJson<ProjectConfiguration>(tree, 'apps/hello-svc/project.json').tags).toEqual([
        'scope:hello',
        'type:service',
      ]);
    });
  });

  describe('skipUvLock', () => {
    beforeEach(() => jest.mocked(uvLockTask).mockClear());

    it('locks the uv workspace once, after generating', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      expect(uvLockTask).toHaveBeenCalledTimes(1);
    });

    it('does not lock when asked not to', async () => {
      await workflowGenerator(tree, { name: 'hello-svc', skipUvLock: true });
      expect(uvLockTask).not.toHaveBeenCalled();
    });
  });

  describe('skipFormat', () => {
    // A workspace formatted by prettier with settings that differ from what the generator writes
    // (JSON indented by four, YAML strings in single quotes), so that formatting shows.
    beforeEach(() => {
      tree = createTreeWithEmptyWorkspace({ formatter: 'prettier' });
      tree.write('.prettierrc', JSON.stringify({ singleQuote: true, tabWidth: 4 }));
    });

    it('formats what it wrote with the workspace formatter', async () => {
      await workflowGenerator(tree, { name: 'hello-svc' });
      expect(tree.read('apps/hello-svc/project.json', 'utf-8')).toMatch(/^\{\n {4}"name": "hello-svc"/);
      expect(tree.read('apps/hello-svc/workflows/hello.workflow.yaml', 'utf-8')).toContain("default: '!'");
    });

    it('leaves what it wrote as it wrote it with skipFormat', async () => {
      await workflowGenerator(tree, { name: 'hello-svc', skipFormat: true });
      expect(tree.read('apps/hello-svc/project.json', 'utf-8')).toMatch(/^\{\n {2}"name": "hello-svc"/);
      expect(tree.read('apps/hello-svc/workflows/hello.workflow.yaml', 'utf-8')).toBe(SAMPLE);
    });
  });
});
