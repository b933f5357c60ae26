// The second supported Nx major, on the short path: `nx add` accepts the plugin (its @nx/devkit
// peer range), the generators run, inferred targets compile and cache, pytest passes, and the
// sync generator checks the runtime library. The long walk (serve, reload, affected, failures,
// batch mode, drift repair) runs on Nx 23 in workflow-service.spec.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE_HIT, expectOk, lib, type Workspace } from './workspace';

jest.setTimeout(10 * 60 * 1000);

describe('the plugin on Nx 24', () => {
  let ws: Workspace;
  let packDir: string;

  beforeAll(() => {
    packDir = mkdtempSync(join(tmpdir(), 'catalyst-pack-'));
    // nx add fails with ERESOLVE here when the peer range leaves Nx 24 out.
    ws = lib.createWorkspace({ tarball: lib.packPlugin(packDir), nxMajor: 24 });
  });

  afterAll(() => {
    if (process.env.KEEP_E2E_WORKSPACE) console.log(`workspace kept at ${ws?.root}`);
    else ws?.remove();
    rmSync(packDir, { recursive: true, force: true });
  });

  it('runs the pinned Nx 24', () => {
    const installed = JSON.parse(readFileSync(join(ws.root, 'node_modules/nx/package.json'), 'utf8')) as {
      version: string;
    };
    expect(installed.version).toBe(lib.NX_VERSIONS[24].nx);
  });

  it('generates a service whose codegen caches and whose pytest suite passes', () => {
    expectOk(ws.nx('g', '@catalyst/plugin:workflow', 'hello-svc', '--no-interactive'));
    expect(expectOk(ws.nx('run', 'hello-svc:codegen')).output).not.toMatch(CACHE_HIT);
    expect(expectOk(ws.nx('run', 'hello-svc:codegen')).output).toMatch(CACHE_HIT);
    expect(expectOk(ws.nx('run', 'hello-svc:test')).output).toMatch(/2 passed/);
  });

  it('runs the sync generator: sync:check passes in step and fails on a runtime library edited by hand', () => {
    expectOk(ws.nx('sync:check'));
    const module = join(ws.root, 'libs/catalyst-runtime/src/catalyst_runtime/__init__.py');
    writeFileSync(module, `${readFileSync(module, 'utf8')}\n# patched\n`);
    const check = ws.nx('sync:check');
    expect(check.code).not.toBe(0);
    expect(check.output).toMatch(/@catalyst\/plugin:sync.*changed by hand/);
  });

  it('upgrades a workspace an earlier plugin set up through nx migrate', () => {
    // As a version before 0.1.0 left it: the library (still holding the hand edit above) without
    // its record, a .gitignore without .env. Sync alone cannot tell that library from a hand edit.
    rmSync(join(ws.root, 'libs/catalyst-runtime/catalyst-emitted.json'));
    const gitignore = join(ws.root, '.gitignore');
    writeFileSync(gitignore, readFileSync(gitignore, 'utf8').replace(/^\.env\n/m, ''));
    expect(ws.nx('sync:check').output).toMatch(/changed by hand/);
    writeFileSync(
      join(ws.root, 'migrations.json'),
      JSON.stringify({
        migrations: ['record-runtime-emission', 'ignore-env-files'].map((name) => ({
          package: '@catalyst/plugin',
          name,
          version: '0.1.0',
        })),
      }),
    );
    // The workspace's own nx runs them (nx migrate otherwise fetches nx@latest to do it).
    const migrated = expectOk(
      ws.sh(join(ws.root, 'node_modules/.bin/nx'), ['migrate', '--run-migrations=migrations.json'], {
        env: { ...ws.env, NX_MIGRATE_USE_LOCAL: 'true' },
      }),
    );
    expect(migrated.output).toMatch(/emitted by @catalyst\/plugin before 0\.1\.0/);
    expect(readFileSync(gitignore, 'utf8')).toMatch(/^\.env$/m);
    expectOk(ws.nx('sync:check'));
  });
});
