// Real PostgreSQL 15 and Redis for tests: started on loopback, on free ports, in temp folders;
// stopped by pid. Nothing listens beyond 127.0.0.1 and nothing outlives stopServices().
//
//   import { startServices, stopServices } from './services/services.mjs';
//   const services = await startServices();          // services.env: connection URLs
//   try { ... } finally { await stopServices(services); }
//
//   node tools/services/services.mjs start [--state FILE]   prints the env vars (KEY=value lines)
//   node tools/services/services.mjs stop  [--state FILE]   stops what `start` started
//
// Environment variables handed to tests:
//   CATALYST_TEST_POSTGRES_DSN  postgresql://postgres@127.0.0.1:PORT/postgres
//   CATALYST_TEST_REDIS_URL     redis://127.0.0.1:PORT/0
//
// As root (CI), PostgreSQL's initdb refuses to run, so initdb and pg_ctl run as the `postgres`
// user through `runuser`, on a data folder that user owns. When the servers are missing and we are
// root, they are installed from Debian's packages (apt-get update; apt-get install).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/workspace.cjs';

const isRoot = process.getuid?.() === 0;
const defaultState = join(tmpdir(), 'catalyst-test-services.json');

// One freePort for every script: the sample-workspace helper's.
export { freePort };

function run(cmd, args, options = {}) {
  const out = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (out.error) throw out.error;
  if (out.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${out.status}:\n${out.stdout ?? ''}${out.stderr ?? ''}`);
  }
  return out.stdout;
}

function postgresBin() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0], 'bin') : undefined;
}

function hasRedis() {
  return spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Installs PostgreSQL and Redis from Debian's packages when they are missing (root only). */
export function ensureInstalled() {
  if (postgresBin() && hasRedis()) return;
  if (!isRoot) {
    throw new Error('PostgreSQL and Redis are needed for these tests: apt-get install -y postgresql redis-server');
  }
  console.error('[services] installing postgresql and redis-server from Debian packages');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql', 'redis-server'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  // Debian's packages start system-wide servers on the default ports; the tests never use them.
  if (!postgresBin() || !hasRedis()) throw new Error('installing postgresql and redis-server failed');
}

function asPostgres(cmd, args) {
  return isRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);
}

async function waitFor(check, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function canConnect(port) {
  return new Promise((resolveOk) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveOk(true);
    });
    socket.once('error', () => resolveOk(false));
  });
}

function redisPing(port) {
  return new Promise((resolveOk) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk;
      if (data.includes('\r\n')) {
        socket.destroy();
        resolveOk(data.startsWith('+PONG'));
      }
    });
    socket.once('error', () => resolveOk(false));
  });
}

export async function startPostgres() {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'catalyst-pg-'));
  const data = join(dir, 'data');
  if (isRoot)
    chownSync(dir, Number(run('id', ['-u', 'postgres']).trim()), Number(run('id', ['-g', 'postgres']).trim()));
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    // A throwaway database: durability buys nothing and costs seconds.
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  try {
    asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-sync']);
    asPostgres(join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-o',
      options,
      '-l',
      join(dir, 'postgres.log'),
      '-w',
      '-t',
      '30',
      'start',
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  await waitFor(() => canConnect(port), `PostgreSQL on port ${port}`);
  return {
    kind: 'postgres',
    pid,
    port,
    dir,
    bin,
    options,
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    // The client of the same release, for loading sample data (examples' seed.sql).
    psql: join(bin, 'psql'),
  };
}

export async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'catalyst-redis-'));
  const port = await freePort();
  const pidfile = join(dir, 'redis.pid');
  // prettier-ignore
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--daemonize', 'yes', '--pidfile', pidfile, '--dir', dir, '--logfile', join(dir, 'redis.log'),
  ];
  run('redis-server', args);
  await waitFor(() => existsSync(pidfile) && redisPing(port), `Redis on port ${port}`);
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  return { kind: 'redis', pid, port, dir, args, url: `redis://127.0.0.1:${port}/0` };
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a server that startPostgres or startRedis started and keeps its folder, so that
 * startAgain brings the same server back on the same port: an outage, for the bench's faults
 * under load. PostgreSQL gets a fast shutdown (SIGINT), Redis its normal one (SIGTERM).
 */
export async function stopForNow(service) {
  process.kill(service.pid, service.kind === 'postgres' ? 'SIGINT' : 'SIGTERM');
  await waitFor(() => !alive(service.pid), `${service.kind} (pid ${service.pid}) to stop`, 30000);
}

/** Starts again, on its port and with its data, a server that stopForNow stopped. */
export async function startAgain(service) {
  if (service.kind === 'postgres') {
    const data = join(service.dir, 'data');
    // prettier-ignore
    asPostgres(join(service.bin, 'pg_ctl'), [
      '-D', data, '-o', service.options, '-l', join(service.dir, 'postgres.log'), '-w', '-t', '30', 'start',
    ]);
    service.pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    await waitFor(() => canConnect(service.port), `PostgreSQL on port ${service.port}`);
  } else {
    const pidfile = join(service.dir, 'redis.pid');
    run('redis-server', service.args);
    await waitFor(() => existsSync(pidfile) && redisPing(service.port), `Redis on port ${service.port}`);
    service.pid = Number(readFileSync(pidfile, 'utf8').trim());
  }
}

async function stopOne(service) {
  if (!service) return;
  if (alive(service.pid)) {
    // SIGINT is PostgreSQL's fast shutdown; SIGTERM is Redis's normal one.
    process.kill(service.pid, service.kind === 'postgres' ? 'SIGINT' : 'SIGTERM');
    try {
      await waitFor(() => !alive(service.pid), `${service.kind} (pid ${service.pid}) to stop`, 15000);
    } catch {
      process.kill(service.pid, 'SIGKILL');
    }
  }
  rmSync(service.dir, { recursive: true, force: true });
}

/** Starts PostgreSQL and Redis; returns { postgres, redis, env }. */
export async function startServices() {
  ensureInstalled();
  const [postgres, redis] = await Promise.allSettled([startPostgres(), startRedis()]);
  if (postgres.status === 'rejected' || redis.status === 'rejected') {
    await stopServices({
      postgres: postgres.status === 'fulfilled' ? postgres.value : undefined,
      redis: redis.status === 'fulfilled' ? redis.value : undefined,
    });
    throw postgres.status === 'rejected' ? postgres.reason : redis.reason;
  }
  return {
    postgres: postgres.value,
    redis: redis.value,
    env: {
      CATALYST_TEST_POSTGRES_DSN: postgres.value.url,
      CATALYST_TEST_REDIS_URL: redis.value.url,
    },
  };
}

/** Stops what startServices started, by pid, and removes their temp folders. */
export async function stopServices(services) {
  if (!services) return;
  await Promise.all([stopOne(services.postgres), stopOne(services.redis)]);
}

async function cli(argv) {
  const [command, ...rest] = argv;
  const stateIndex = rest.indexOf('--state');
  const state = resolve(stateIndex >= 0 ? rest[stateIndex + 1] : defaultState);
  if (command === 'start') {
    const services = await startServices();
    writeFileSync(state, JSON.stringify(services, null, 2));
    for (const [key, value] of Object.entries(services.env)) console.log(`${key}=${value}`);
  } else if (command === 'stop') {
    if (!existsSync(state)) return;
    await stopServices(JSON.parse(readFileSync(state, 'utf8')));
    rmSync(state, { force: true });
  } else {
    console.error('usage: node tools/services/services.mjs start|stop [--state FILE]');
    process.exitCode = 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((error) => {
    console.error(`[services] ${error.message}`);
    process.exitCode = 1;
  });
}

export const servicesDir = dirname(fileURLToPath(import.meta.url));
