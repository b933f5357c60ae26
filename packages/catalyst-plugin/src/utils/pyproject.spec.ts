import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { parse } from 'smol-toml';
import {
  addUvWorkspaceMember,
  findUvMemberNamed,
  memberGlobMatches,
  memberMatcher,
  readProjectName,
  rootPyprojectText,
  uvMemberDirs,
} from './pyproject';

describe('pyproject helpers', () => {
  it('reads [project].name', () => {
    expect(readProjectName('[project]\nname = "hello-svc"\n')).toBe('hello-svc');
    expect(readProjectName('[tool.uv.workspace]\nmembers = []\n')).toBeUndefined();
    expect(readProjectName('not = [toml')).toBeUndefined();
  });

  it('matches uv member globs', () => {
    expect(memberGlobMatches('apps/*', 'apps/hello-svc')).toBe(true);
    expect(memberGlobMatches('apps/*', 'apps/shop/orders')).toBe(false);
    expect(memberGlobMatches('apps/**', 'apps/shop/orders')).toBe(true);
    expect(memberGlobMatches('./libs/catalyst-runtime/', 'libs/catalyst-runtime')).toBe(true);
  });

  it('answers for a list of member globs as each glob alone does', () => {
    const globs = ['libs/catalyst-runtime/', 'apps/*', 'services/**', 'tools/a?c', 'odd[1].dir'];
    const matches = memberMatcher(globs);
    const paths = [
      'libs/catalyst-runtime',
      './libs/catalyst-runtime',
      'libs/catalyst-runtime-2',
      'apps/hello-svc',
      'apps/shop/orders',
      'services/shop/orders',
      'tools/abc',
      'tools/abbc',
      'odd[1].dir',
      'odd1xdir',
      'apps',
    ];
    for (const path of paths) {
      expect([path, matches(path)]).toEqual([path, globs.some((glob) => memberGlobMatches(glob, path))]);
    }
    expect(paths.filter(matches)).toEqual([
      'libs/catalyst-runtime',
      './libs/catalyst-runtime',
      'apps/hello-svc',
      'services/shop/orders',
      'tools/abc',
      'odd[1].dir',
    ]);
    expect(memberMatcher([])('apps/a')).toBe(false);
  });

  it('lists the folders the uv member globs match, and finds a member by its PEP 503 name', () => {
    const tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
    tree.write('pyproject.toml', '[tool.uv.workspace]\nmembers = ["libs/catalyst-runtime", "apps/*", "services/**"]\n');
    tree.write('libs/catalyst-runtime/pyproject.toml', '[project]\nname = "catalyst-runtime"\n');
    tree.write('apps/a/pyproject.toml', '[project]\nname = "a-svc"\n');
    tree.write('apps/no-python/README.md', 'not a member');
    tree.write('services/shop/orders/pyproject.toml', '[project]\nname = "Orders.Svc"\n');
    expect(uvMemberDirs(tree)).toEqual(['apps/a', 'libs/catalyst-runtime', 'services/shop/orders']);
    expect(findUvMemberNamed(tree, 'orders-svc')).toBe('services/shop/orders');
    expect(findUvMemberNamed(tree, 'a-svc')).toBe('apps/a');
    expect(findUvMemberNamed(tree, 'b-svc')).toBeUndefined();
  });

  describe('addUvWorkspaceMember', () => {
    it('creates a virtual workspace root when there is none', () => {
      const tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
      addUvWorkspaceMember(tree, 'apps/a');
      expect(tree.read('pyproject.toml', 'utf-8')).toBe(rootPyprojectText(['apps/a']));
    });

    it('edits the members array in place, keeping comments', () => {
      const tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
      tree.write('pyproject.toml', '# keep me\n[tool.uv.workspace]\nmembers = ["libs/x"] # and me?\n');
      addUvWorkspaceMember(tree, 'apps/a');
      const text = tree.read('pyproject.toml', 'utf-8') ?? '';
      expect(text).toContain('# keep me');
      expect(text).toContain('members = [\n  "libs/x",\n  "apps/a",\n] # and me?');
    });

    it('does nothing when a glob already covers the member', () => {
      const tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
      const text = '[tool.uv.workspace]\nmembers = ["apps/*"]\n';
      tree.write('pyproject.toml', text);
      addUvWorkspaceMember(tree, 'apps/a');
      expect(tree.read('pyproject.toml', 'utf-8')).toBe(text);
    });

    it('adds a workspace table to a pyproject.toml that has none', () => {
      const tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
      tree.write('pyproject.toml', '[tool.ruff]\nline-length = 100\n');
      addUvWorkspaceMember(tree, 'apps/a');
      expect(parse(tree.read('pyproject.toml', 'utf-8') ?? '')).toEqual({
        tool: { ruff: { 'line-length': 100 }, uv: { workspace: { members: ['apps/a'] } } },
      });
    });

    it('explains a pyproject.toml that does not parse', () => {
      const tree = createTreeWithEmptyWorkspace({ formatter: 'none' });
      tree.write('pyproject.toml', '[tool\n');
      expect(() => addUvWorkspaceMember(tree, 'apps/a')).toThrow('pyproject.toml is not valid TOML');
    });
  });
});
