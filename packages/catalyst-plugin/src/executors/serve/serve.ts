import { logger, type ExecutorContext } from '@nx/devkit';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { runtimeProjectNameInNxJson } from '../../plugin/runtime-project';
import { requireUv } from '../../utils/uv';
import { runForwardingSignals } from '../../utils/run-process';
import { serviceFromContext, type Service } from '../../utils/service';
import { WORKFLOWS_DIR } from '../codegen/lib/read-definitions';
import { runCodegen } from '../codegen/lib/run-codegen';
import { StartupMonitor } from './lib/startup-monitor';
import type { ServeExecutorSchema } from './schema';

/** The uv command line that serves a service (exported for tests and for the docs). */
export function serveArgs(
  distributionName: string,
  app: string,
  options: { host: string; port: number; reloadDirs?: string[]; server?: 'uvicorn' | 'granian' },
): string[] {
  const args = ['run', '--package', distributionName, 'python', '-m', 'catalyst_runtime.serve', app];
  args.push('--host', options.host, '--port', String(options.port));
  if (options.server === 'granian') args.push('--server', 'granian');
  if (options.reloadDirs) {
    args.push('--reload', ...options.reloadDirs.flatMap((dir) => ['--reload-dir', dir]));
  }
  return args;
}

/** What uvicorn watches with --reload: the service's sources and the runtime library's. */
function reloadDirsFor(projectRoot: string, context: ExecutorContext): string[] {
  const dirs = [join(projectRoot, 'src')];
  const runtime = context.projectsConfigurations?.projects[runtimeProjectNameInNxJson(context.nxJsonConfiguration)];
  if (runtime) {
    const runtimeSrc = join(context.root, runtime.root, 'src');
    if (existsSync(runtimeSrc)) dirs.push(runtimeSrc);
  }
  return dirs;
}

/** Recompiles on definition edits (debounced); uvicorn's reloader then sees the new code. */
function watchDefinitions(service: Service): FSWatcher | undefined {
  const dir = join(service.absoluteRoot, WORKFLOWS_DIR);
  if (!existsSync(dir)) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const recompile = () => {
    const outcome = runCodegen(service);
    if (outcome.success) logger.info(outcome.report);
    else logger.error(`${outcome.report}\nStill serving the last code that compiled.`);
  };
  return watch(dir, () => {
    clearTimeout(timer);
    timer = setTimeout(recompile, 150);
  });
}

export default async function serveExecutor(
  options: ServeExecutorSchema,
  context: ExecutorContext,
): Promise<{ success: boolean }> {
  const service = serviceFromContext(context, options.packageName);
  const uv = requireUv();
  if (!uv) return { success: false };
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8000;
  const app = options.app ?? `${service.packageName}.main:app`;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    logger.error(`--port=${port} is not a TCP port: use a whole number from 1 to 65535.`);
    return { success: false };
  }
  const server = options.server ?? 'uvicorn';
  if (server !== 'uvicorn' && server !== 'granian') {
    logger.error(`--server=${String(server)} is not a server serve knows: use uvicorn or granian.`);
    return { success: false };
  }
  if (options.reload && server === 'granian') {
    // The reloader is uvicorn's; granian's would need the watchfiles extra and behaves differently.
    logger.error('--reload is served by uvicorn only: drop --server=granian in development.');
    return { success: false };
  }
  const reloadDirs = options.reload ? reloadDirsFor(service.absoluteRoot, context) : undefined;
  const args = serveArgs(service.distributionName, app, { host, port, reloadDirs, server });

  logger.info(`Serving ${context.projectName} on http://${host}:${port} (${uv} ${args.join(' ')})`);
  const watcher = options.reload ? watchDefinitions(service) : undefined;
  // The child's output goes through the monitor, which puts the reason of a failed start-up on
  // one line before the traceback. Unbuffered, so that the access log is not held in a pipe.
  const monitor = new StartupMonitor(
    (stream, text) => (stream === 'stdout' ? process.stdout : process.stderr).write(text),
    (reason) => logger.error(`${context.projectName} did not start: ${reason ?? 'see the output below'}`),
    { reload: options.reload },
  );
  try {
    const code = await runForwardingSignals(
      uv,
      args,
      {
        cwd: context.root,
        // A development server: uvicorn's text lines unless asked otherwise (in production
        // `python -m catalyst_runtime.serve` writes JSON lines when not on a terminal).
        env: { ...process.env, PYTHONUNBUFFERED: '1', CATALYST_LOG_FORMAT: process.env.CATALYST_LOG_FORMAT ?? 'text' },
      },
      (stream, chunk) => monitor.data(stream, chunk),
    );
    monitor.exit(code);
    return { success: code === 0 };
  } finally {
    watcher?.close();
  }
}
