import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isUpToDate, recoverLeftovers, writeGeneratedAtomically } from './write-atomically';

// The real file system, with renameSync and writeFileSync wrapped so that a test can make one
// call fail the way a full disk or a busy folder would.
jest.mock('node:fs', () => {
  const actual = jest.requireActual<typeof import('node:fs')>('node:fs');
  return { ...actual, renameSync: jest.fn(actual.renameSync), writeFileSync: jest.fn(actual.writeFileSync) };
});
const { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } =
  jest.requireActual<typeof import('node:fs')>('node:fs');
const actualRename = jest.requireActual<typeof import('node:fs')>('node:fs').renameSync;
const actualWrite = jest.requireActual<typeof import('node:fs')>('node:fs').writeFileSync;
const renameSync = jest.mocked(fs.renameSync);
const writeFileSync = jest.mocked(fs.writeFileSync);

/** A pid no process has (above the kernel's pid_max): its leftovers are a crashed run's. */
const DEAD_PID = 999999999;

describe('writeGeneratedAtomically', () => {
  let parent: string;
  let output: string;

  const files = (tree: Record<string, string>) => Object.entries(tree).map(([path, contents]) => ({ path, contents }));

  /** Relative path → contents of every file under `dir`. */
  function tree(dir: string, prefix = ''): Record<string, string> {
    const out: Record<string, string> = {};
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) Object.assign(out, tree(join(dir, entry.name), rel));
      else out[rel] = readFileSync(join(dir, entry.name), 'utf8');
    }
    return out;
  }

  beforeEach(() => {
    parent = mkdtempSync(join(tmpdir(), 'catalyst-atomic-'));
    output = join(parent, '_generated');
  });

  afterEach(() => {
    renameSync.mockImplementation(actualRename);
    writeFileSync.mockImplementation(actualWrite);
    rmSync(parent, { recursive: true, force: true });
  });

  it('is not up to date while the folder holds a file no longer generated', () => {
    expect(writeGeneratedAtomically(output, files({ '__init__.py': 'x = 1\n', 'stale.py': '' }))).toBe(true);
    expect(isUpToDate(output, files({ '__init__.py': 'x = 1\n' }))).toBe(false);
    expect(writeGeneratedAtomically(output, files({ '__init__.py': 'x = 1\n' }))).toBe(true);
    expect(tree(output)).toEqual({ '__init__.py': 'x = 1\n' });
    // Byte-cache folders are Python's, not extra output.
    mkdirSync(join(output, '__pycache__'));
    actualWrite(join(output, '__pycache__', 'x.pyc'), '');
    expect(isUpToDate(output, files({ '__init__.py': 'x = 1\n' }))).toBe(true);
  });

  it('is up to date for a tree with subfolders, and never for a folder that is not there', () => {
    const nested = files({ '__init__.py': '', 'pkg/__init__.py': '', 'pkg/deep/m.py': 'm = 1\n' });
    expect(isUpToDate(output, nested)).toBe(false);
    expect(writeGeneratedAtomically(output, nested)).toBe(true);
    expect(writeGeneratedAtomically(output, nested)).toBe(false);
    expect(isUpToDate(output, files({ '__init__.py': '', 'pkg/__init__.py': '', 'pkg/deep/m.py': 'm = 2\n' }))).toBe(
      false,
    );
  });

  it.each(['..', '.', 'a/../..', '../x.py', '/abs.py'])('refuses to write %j, outside the output folder', (path) => {
    expect(() => writeGeneratedAtomically(output, [{ path, contents: '' }])).toThrow('outside the output folder');
    expect(readdirSync(parent)).toEqual([]);
  });

  it('when the first output cannot be renamed into place, says why and leaves nothing behind', () => {
    renameSync.mockImplementation(() => {
      throw Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' });
    });
    expect(() => writeGeneratedAtomically(output, files({ '__init__.py': '' }))).toThrow('EBUSY');
    expect(readdirSync(parent)).toEqual([]);
  });

  it('when the final rename fails, puts the previous output back and leaves nothing behind', () => {
    writeGeneratedAtomically(output, files({ '__init__.py': 'old = 1\n', 'sub/a.py': 'a = 1\n' }));
    renameSync.mockImplementation((from, to) => {
      if (basename(String(from)).startsWith('._generated.staging-')) {
        throw Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' });
      }
      actualRename(from, to);
    });
    expect(() => writeGeneratedAtomically(output, files({ '__init__.py': 'new = 1\n' }))).toThrow('EBUSY');
    expect(tree(output)).toEqual({ '__init__.py': 'old = 1\n', 'sub/a.py': 'a = 1\n' });
    expect(readdirSync(parent)).toEqual(['_generated']);
  });

  it('when writing the staging folder fails, removes it and leaves the previous output as it was', () => {
    writeGeneratedAtomically(output, files({ '__init__.py': 'old = 1\n' }));
    let writes = 0;
    writeFileSync.mockImplementation((path, data, options) => {
      if (++writes === 2) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      actualWrite(path, data, options);
    });
    expect(() =>
      writeGeneratedAtomically(output, files({ '__init__.py': 'new = 1\n', 'a.py': '', 'b.py': '' })),
    ).toThrow('ENOSPC');
    expect(writes).toBe(2);
    expect(tree(output)).toEqual({ '__init__.py': 'old = 1\n' });
    expect(readdirSync(parent)).toEqual(['_generated']);
  });
});

describe('recoverLeftovers', () => {
  let parent: string;
  let output: string;

  beforeEach(() => {
    parent = mkdtempSync(join(tmpdir(), 'catalyst-recover-'));
    output = join(parent, '_generated');
  });

  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  /** A retired tree as a crashed swap leaves it, last modified `secondsAgo` ago. */
  function retired(suffix: string, contents: string, secondsAgo: number): void {
    const dir = join(parent, `._generated.retired-${DEAD_PID}-${suffix}`);
    mkdirSync(dir);
    actualWrite(join(dir, 'hello.py'), contents);
    const when = Date.now() / 1000 - secondsAgo;
    utimesSync(dir, when, when);
  }

  it('with no output folder, puts the newest retired tree back and removes the others', () => {
    // Names sort in another order than ages, so only the modification time can pick the newest.
    retired('a', 'middle = 1\n', 200);
    retired('b', 'newest = 1\n', 10);
    retired('c', 'oldest = 1\n', 3000);
    mkdirSync(join(parent, `._generated.staging-${DEAD_PID}-d`));
    recoverLeftovers(output);
    expect(readFileSync(join(output, 'hello.py'), 'utf8')).toBe('newest = 1\n');
    expect(readdirSync(parent)).toEqual(['_generated']);
  });

  it.each([
    ['this process (nothing of its own is still being written)', () => process.pid],
    ['pid 0 (no writer has it)', () => 0],
    ['a name that is no pid', () => 'junk1'],
  ])('removes a staging folder named for %s', (_, pid) => {
    mkdirSync(output);
    mkdirSync(join(parent, `._generated.staging-${pid()}-abc`));
    recoverLeftovers(output);
    expect(readdirSync(parent)).toEqual(['_generated']);
  });

  it('keeps a staging folder whose writer is still running', () => {
    mkdirSync(output);
    const live = `._generated.staging-${process.ppid}-abc`;
    mkdirSync(join(parent, live));
    recoverLeftovers(output);
    expect(readdirSync(parent).sort()).toEqual([live, '_generated']);
  });

  it('keeps an existing output folder and drops every retired tree', () => {
    mkdirSync(output);
    actualWrite(join(output, 'hello.py'), 'current = 1\n');
    retired('a', 'older = 1\n', 100);
    recoverLeftovers(output);
    expect(readFileSync(join(output, 'hello.py'), 'utf8')).toBe('current = 1\n');
    expect(readdirSync(parent)).toEqual(['_generated']);
  });
});
