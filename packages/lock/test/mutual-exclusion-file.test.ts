import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcesses, tmpDir } from '@perf/testing';
import { describe, expect, it } from 'vitest';

const fixture = join(import.meta.dirname, 'fixtures/file-counter.ts');

describe('FileLockProvider mutual exclusion across processes', () => {
  it('4 processes × 200 non-atomic read-modify-writes of a counter file lose no update', async () => {
    await using dir = await tmpDir('lock-mutex-');
    const lockPath = join(dir.path, 'counter');
    const counterPath = join(dir.path, 'counter.txt');
    await writeFile(counterPath, '0');

    const results = await runProcesses(4, fixture, {
      args: [lockPath, counterPath, '200'],
      timeoutMs: 150_000,
    });

    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(Number(await readFile(counterPath, 'utf8'))).toBe(800);

    // Fencing: each holder got the counter's next value as its token, so tokens are strictly increasing
    // in the order holders actually held the lock, across all four processes.
    const all: Array<[bigint, number]> = [];
    for (const r of results) {
      const { observed } = r.result as { observed: Array<[string, number]> };
      expect(observed).toHaveLength(200);
      const tokens = observed.map(([token]) => BigInt(token));
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
      for (const [token, value] of observed) all.push([BigInt(token), value]);
    }
    for (const [token, value] of all) expect(token).toBe(BigInt(value) + 1n);
    expect(new Set(all.map(([token]) => token)).size).toBe(800);
    expect(await readFile(`${lockPath}.fence`, 'utf8')).toBe('800\n');
    // They really contended: at least one acquisition somewhere had to wait.
    const contended = results.reduce((n, r) => n + (r.result as { contended: number }).contended, 0);
    expect(contended).toBeGreaterThan(0);
  }, 180_000);
});
