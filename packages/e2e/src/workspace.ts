// Typed access to tools/lib/workspace.cjs, the helper shared with `npm run demo`.
import { join } from 'node:path';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  output: string;
}

export interface Background {
  output(): string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  stop(): Promise<void>;
  child: { exitCode: number | null; signalCode: string | null };
}

export interface Workspace {
  root: string;
  env: NodeJS.ProcessEnv;
  uv: string;
  sh(cmd: string, args: string[], opts?: object): CommandResult;
  must(cmd: string, args: string[], opts?: object): CommandResult;
  nx(...args: string[]): CommandResult;
  commit(message: string): void;
  spawnNx(args: string[]): Background;
  remove(): void;
}

interface WorkspaceLib {
  createWorkspace(opts: {
    tarball?: string;
    log?: (line: string) => void;
    parent?: string;
    /** Which pinned Nx (`NX_VERSIONS` in tools/lib/workspace.cjs); default 23. */
    nxMajor?: number;
  }): Workspace;
  NX_VERSIONS: Record<number, { nx: string; devkit: string }>;
  packPlugin(dest: string): string;
  freePort(): Promise<number>;
  waitForHttp(url: string, opts?: { timeoutMs?: number; isAlive?: () => boolean }): Promise<void>;
  repoRoot: string;
  /** packages/catalyst-plugin, whose dist/ the packed tarball ships. */
  pluginRoot: string;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const lib = require(join(__dirname, '..', '..', '..', 'tools', 'lib', 'workspace.cjs')) as WorkspaceLib;

/** The result, or an error carrying the command's whole output. */
export function expectOk(result: CommandResult): CommandResult {
  if (result.code !== 0) throw new Error(`command failed (exit ${result.code}):\n${result.output}`);
  return result;
}

export const CACHE_HIT = /Nx read the output from the cache instead of running the command for 1 out of 1 tasks/;
