import type { ExecutorContext } from '@nx/devkit';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readService, serviceFromContext } from './service';

describe('readService', () => {
  let workspaceRoot: string;

  beforeEach(() => {
    workspaceRoot = mkdtempSync(join(tmpdir(), 'catalyst-service-'));
    mkdirSync(join(workspaceRoot, 'apps/named'), { recursive: true });
    writeFileSync(join(workspaceRoot, 'apps/named/pyproject.toml'), '[project]\nname = "Orders.Svc"\n');
    mkdirSync(join(workspaceRoot, 'apps/virtual'), { recursive: true });
    writeFileSync(join(workspaceRoot, 'apps/virtual/pyproject.toml'), '[tool.uv.workspace]\nmembers = []\n');
  });

  afterEach(() => rmSync(workspaceRoot, { recursive: true, force: true }));

  it("takes pyproject.toml's [project].name over the fallback", () => {
    expect(readService(workspaceRoot, 'apps/named', 'named')).toEqual({
      root: 'apps/named',
      absoluteRoot: join(workspaceRoot, 'apps/named'),
      distributionName: 'Orders.Svc',
      packageName: 'orders_svc',
    });
  });

  it('falls back to the given name, and is no service without one', () => {
    expect(readService(workspaceRoot, 'apps/virtual', 'virtual-svc').packageName).toBe('virtual_svc');
    expect(readService(workspaceRoot, 'apps/virtual', undefined)).toBeUndefined();
    expect(readService(workspaceRoot, 'apps/missing', undefined)).toBeUndefined();
  });

  it('names the file, line and column of a pyproject.toml that is not valid TOML', () => {
    mkdirSync(join(workspaceRoot, 'apps/broken'), { recursive: true });
    writeFileSync(join(workspaceRoot, 'apps/broken/pyproject.toml'), '[project]\nname = "broken"\nversion = 1.2.3\n');
    expect(() => readService(workspaceRoot, 'apps/broken', 'broken')).toThrow(
      /^apps\/broken\/pyproject\.toml:3:\d+: not valid TOML \(.+\)/,
    );
  });

  it('names the file of a [project].name that is not a string', () => {
    mkdirSync(join(workspaceRoot, 'apps/odd'), { recursive: true });
    writeFileSync(join(workspaceRoot, 'apps/odd/pyproject.toml'), '[project]\nname = 3\n');
    expect(() => readService(workspaceRoot, 'apps/odd', 'odd')).toThrow(
      'apps/odd/pyproject.toml: [project].name must be a non-empty string',
    );
  });

  it("is the executor's project, with the package the target's options name", () => {
    const context = {
      root: workspaceRoot,
      projectName: 'named',
      projectsConfigurations: { version: 2, projects: { named: { root: 'apps/named' } } },
    } as unknown as ExecutorContext;
    expect(serviceFromContext(context)).toEqual(readService(workspaceRoot, 'apps/named', 'named'));
    expect(serviceFromContext(context, 'other_pkg').packageName).toBe('other_pkg');
    expect(() => serviceFromContext({ ...context, projectName: undefined })).toThrow('must run on a project target');
  });
});
