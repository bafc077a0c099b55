import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runNodeScript, runProcesses, tmpDir } from '../src/index';

const child = join(import.meta.dirname, 'fixtures/child.ts');

describe('tmpDir', () => {
  it('creates a fresh directory and removes it on dispose', async () => {
    const dir = await tmpDir('perf-test-');
    await writeFile(join(dir.path, 'a.txt'), 'x');
    expect(existsSync(join(dir.path, 'a.txt'))).toBe(true);
    await dir[Symbol.asyncDispose]();
    await dir.remove();
    expect(existsSync(dir.path)).toBe(false);
  });
});

describe('runProcesses', () => {
  it('runs N real processes at once and collects each result in index order', async () => {
    const results = await runProcesses(3, child);
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(results.map((r) => (r.result as { index: number }).index)).toEqual([0, 1, 2]);
    const pids = new Set(results.map((r) => (r.result as { pid: number }).pid));
    expect(pids.size).toBe(3);
    expect(pids.has(process.pid)).toBe(false);
  });

  it('reports a failing process with its exit code and stderr', async () => {
    const r = await runNodeScript(child, { args: ['fail'] });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('failing on purpose');
    expect(r.result).toBeUndefined();
  });

  it('rejects a bad count with a TypeError naming it', () => {
    expect(() => runProcesses(0, child)).toThrow(/count must be a positive integer, received 0/);
  });
});
