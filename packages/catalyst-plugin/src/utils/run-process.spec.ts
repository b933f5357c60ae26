import { runForwardingSignals } from './run-process';

describe('runForwardingSignals', () => {
  it('resolves with the exit code of the command', async () => {
    await expect(runForwardingSignals(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' })).resolves.toBe(
      3,
    );
  });

  it('passes a stop signal on to the child and counts the stop as success', async () => {
    const listenersBefore = process.listenerCount('SIGTERM');
    const child = runForwardingSignals(
      process.execPath,
      [
        '-e',
        "process.on('SIGTERM', () => process.exit(0)); process.stdout.write('ready'); setInterval(() => {}, 1000)",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((r) => setTimeout(r, 300));
    process.emit('SIGTERM');
    await expect(child).resolves.toBe(0);
    expect(process.listenerCount('SIGTERM')).toBe(listenersBefore);
  });

  it('rejects when the command cannot be started', async () => {
    await expect(runForwardingSignals('/nonexistent/uv', [], { stdio: 'ignore' })).rejects.toThrow('ENOENT');
  });
});
