import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findUv, requireUv, UV_INSTALL_HINT } from './uv';

describe('findUv', () => {
  let dir: string;
  const fakeUv = (folder: string) => {
    mkdirSync(folder, { recursive: true });
    const path = join(folder, 'uv');
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o755);
    return path;
  };

  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'catalyst-uv-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prefers $UV when it is an executable', () => {
    const pinned = fakeUv(join(dir, 'pinned'));
    fakeUv(join(dir, 'bin'));
    expect(findUv({ UV: pinned, PATH: join(dir, 'bin') })).toBe(pinned);
  });

  it('uses uv on PATH otherwise', () => {
    const onPath = fakeUv(join(dir, 'bin'));
    expect(findUv({ PATH: `${join(dir, 'empty')}:${join(dir, 'bin')}` })).toBe(onPath);
  });

  it('says how to install uv when there is none', () => {
    expect(() => findUv({ PATH: join(dir, 'empty') })).toThrow(UV_INSTALL_HINT);
    expect(UV_INSTALL_HINT).toContain('pip install uv');
  });

  it('names a $UV that is not an executable', () => {
    expect(() => findUv({ UV: join(dir, 'nope'), PATH: '' })).toThrow(`UV=${join(dir, 'nope')} is not an executable`);
  });
});

describe('requireUv', () => {
  it('reports why there is no uv instead of throwing', () => {
    const reported: string[] = [];
    expect(requireUv((message) => reported.push(message), { PATH: '' })).toBeUndefined();
    expect(reported).toEqual([UV_INSTALL_HINT]);
  });

  it('answers the uv findUv finds, reporting nothing', () => {
    const reported: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'catalyst-uv-'));
    try {
      const uv = join(dir, 'uv');
      writeFileSync(uv, '#!/bin/sh\n');
      chmodSync(uv, 0o755);
      expect(requireUv((message) => reported.push(message), { PATH: dir })).toBe(uv);
      expect(reported).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
