import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transpileModule, ModuleKind } from 'typescript';
import { runForwardingSignals } from './run-process';

/**
 * Runs runForwardingSignals in a separate process (its own group, like `nx run` in a terminal)
 * around a child that counts the SIGINTs it gets, then sends SIGINT to that whole group, as
 * Ctrl-C does. Returns what the child counted.
 */
async function sigintsAfterCtrlC(ownProcessGroup: boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'catalyst-signals-'));
  try {
    const source = readFileSync(join(__dirname, 'run-process.ts'), 'utf8');
    writeFileSync(join(dir, 'run-process.js'), transpileModule(source, { compilerOptions: { module: ModuleKind.CommonJS } }).outputText);
    const counter = [
      'let n = 0;',
      "process.on('SIGINT', () => { if (++n === 1) setTimeout(() => { console.log('sigints=' + n); process.exit(0); }, 300); });",
      "console.log('ready'); setInterval(() => {}, 1000);",
    ].join('\n');
    writeFileSync(
      join(dir, 'parent.js'),
      `require('./run-process.js').runForwardingSignals(process.execPath, ['-e', ${JSON.stringify(counter)}], {}, { ownProcessGroup: ${ownProcessGroup} })` +
        `.then((code) => { console.log('exit=' + code); process.exit(0); });\n`,
    );
    const parent = spawn(process.execPath, [join(dir, 'parent.js')], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve) => parent.stdout.on('data', (d) => ((out += d), out.includes('ready') && resolve())));
    process.kill(-(parent.pid as number), 'SIGINT');
    await new Promise((resolve) => parent.on('exit', resolve));
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('runForwardingSignals', () => {
  it('resolves with the exit code of the command', async () => {
    await expect(runForwardingSignals(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' })).resolves.toBe(3);
  });

  it('passes a stop signal on to the child and counts the stop as success', async () => {
    const listenersBefore = process.listenerCount('SIGTERM');
    const child = runForwardingSignals(
      process.execPath,
      ['-e', "process.on('SIGTERM', () => process.exit(0)); process.stdout.write('ready'); setInterval(() => {}, 1000)"],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((r) => setTimeout(r, 300));
    process.emit('SIGTERM');
    await expect(child).resolves.toBe(0);
    expect(process.listenerCount('SIGTERM')).toBe(listenersBefore);
  });

  it('with ownProcessGroup, a Ctrl-C reaches the child exactly once (a second SIGINT would force-quit uvicorn)', async () => {
    const out = await sigintsAfterCtrlC(true);
    expect(out).toContain('sigints=1');
    expect(out).toContain('exit=0');
  });

  it('without it, the child shares the terminal group and also gets the forwarded copy', async () => {
    expect(await sigintsAfterCtrlC(false)).toContain('sigints=2');
  });

  it('rejects when the command cannot be started', async () => {
    await expect(runForwardingSignals('/nonexistent/uv', [], { stdio: 'ignore' })).rejects.toThrow('ENOENT');
  });
});
