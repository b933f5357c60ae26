// Sharing codegen through a remote cache: a second clone of the workspace, at another path,
// gets codegen's output from the cache the first filled, byte for byte, without compiling. The
// cache is a server of Nx's self-hosted remote cache API (tools/lib/remote-cache-server.cjs),
// with a read-write token (as main's CI would hold) and a read-only one (as pull requests would).
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CACHE_HIT, expectOk, lib, type CommandResult, type Workspace } from './workspace';

jest.setTimeout(10 * 60 * 1000);

const READ_WRITE = 'main-token';
const READ_ONLY = 'pull-request-token';

/** Every file under `dir`, relative, sorted, with its bytes. */
function filesUnder(dir: string, root = dir): [string, Buffer][] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry): [string, Buffer][] => {
      const full = join(dir, entry);
      return statSync(full).isDirectory() ? filesUnder(full, root) : [[relative(root, full), readFileSync(full)]];
    });
}

interface CacheLog {
  answered: { method: string; hash?: string; status: number }[];
  stored: string[];
}

describe('codegen through a remote cache', () => {
  let packDir: string;
  let cloneParent: string;
  let server: ChildProcess;
  let url: string;
  let first: Workspace;
  let clone: string;

  const cacheLog = async (): Promise<CacheLog> => (await (await fetch(`${url}/log`)).json()) as CacheLog;
  /** `nx <args>` in `root` with the remote cache and `token`. */
  const nxWith = (root: string, token: string, ...args: string[]): CommandResult =>
    first.sh(join(root, 'node_modules', '.bin', 'nx'), args, {
      cwd: root,
      env: {
        ...first.env,
        NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url,
        NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token,
        // Each clone keeps its own local cache, so a hit can only come from the server.
        NX_CACHE_DIRECTORY: join(root, '.nx', 'cache'),
        NX_WORKSPACE_DATA_DIRECTORY: join(root, '.nx', 'workspace-data'),
      },
    });
  const generated = (root: string) => join(root, 'apps/hello-svc/src/hello_svc/_generated');

  beforeAll(async () => {
    packDir = mkdtempSync(join(tmpdir(), 'catalyst-pack-'));
    cloneParent = mkdtempSync(join(tmpdir(), 'catalyst-clone-'));
    const port = await lib.freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(
      process.execPath,
      [join(lib.repoRoot, 'tools/lib/remote-cache-server.cjs'), String(port), READ_WRITE, READ_ONLY],
      {
        stdio: 'ignore',
      },
    );
    await lib.waitForHttp(`${url}/log`, { timeoutMs: 30_000, isAlive: () => server.exitCode === null });
    first = lib.createWorkspace({ tarball: lib.packPlugin(packDir) });
    expectOk(first.nx('g', '@catalyst/plugin:workflow', 'hello-svc', '--no-interactive'));
    first.commit('hello-svc');
  });

  afterAll(() => {
    server?.kill('SIGTERM');
    if (process.env.KEEP_E2E_WORKSPACE) console.log(`workspaces kept at ${first?.root} and ${clone}`);
    else {
      first?.remove();
      rmSync(cloneParent, { recursive: true, force: true });
    }
    rmSync(packDir, { recursive: true, force: true });
  });

  it('gives a second clone at another path the first clone’s codegen output, byte for byte, without compiling', async () => {
    const built = expectOk(nxWith(first.root, READ_WRITE, 'run', 'hello-svc:codegen'));
    expect(built.output).toMatch(/Generated \d+ files/);
    const afterFirst = await cacheLog();
    expect(afterFirst.stored).toHaveLength(1);

    clone = join(cloneParent, 'elsewhere', 'sample-workspace');
    first.must('git', ['clone', '-q', first.root, clone]);
    // The install `npm ci` would make from the committed lock file, copied to keep the suite short.
    cpSync(join(first.root, 'node_modules'), join(clone, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    expect(clone).not.toBe(first.root);

    const reused = expectOk(nxWith(clone, READ_ONLY, 'run', 'hello-svc:codegen'));
    expect(reused.output).toMatch(CACHE_HIT);
    expect(reused.output).toMatch(/\[remote cache\]/);
    expect((await cacheLog()).answered).toContainEqual({ method: 'GET', hash: afterFirst.stored[0], status: 200 });
    expect(filesUnder(generated(clone))).toEqual(filesUnder(generated(first.root)));
  });

  it('never lets a read-only token write', async () => {
    const definition = join(clone, 'apps/hello-svc/workflows/hello.workflow.yaml');
    writeFileSync(definition, readFileSync(definition, 'utf8').replace('Hello, ', 'Hi, '));
    const before = await cacheLog();
    const built = expectOk(nxWith(clone, READ_ONLY, 'run', 'hello-svc:codegen'));
    expect(built.output).not.toMatch(CACHE_HIT);
    const after = await cacheLog();
    expect(after.stored).toEqual(before.stored);
    expect(after.answered.slice(before.answered.length)).toContainEqual(
      expect.objectContaining({ method: 'PUT', status: 403 }),
    );
  });
});
