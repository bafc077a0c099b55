import { mkdir, readlink, symlink, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { type ProcessResult, runNodeScript, type TmpDir, tmpDir } from '@perf/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropSlot, slotFor } from '../src/file-entry';
import {
  type FileLockInfo,
  FileLockProvider,
  inspectFileLock,
  isLockLostError,
  isLockPathError,
  LockPathError,
} from '../src/index';

const holdFixture = join(import.meta.dirname, 'fixtures/file-hold.ts');
const compromisedFixture = join(import.meta.dirname, 'fixtures/file-compromised.ts');

/** Polls until another process holds the lock of `path`; returns what inspect() saw. */
async function heldByChild(path: string, child: Promise<ProcessResult>): Promise<FileLockInfo> {
  let exited = false;
  void child.then(() => (exited = true));
  for (;;) {
    const info = await inspectFileLock(path);
    if (info?.owner && info.owner.pid !== process.pid) return info;
    if (exited) throw new Error(`holder exited early: ${(await child).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const blockEventLoop = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe('FileLockProvider faults', () => {
  let dir: TmpDir;
  let path: string;
  const open: FileLockProvider[] = [];
  const provider = (options?: ConstructorParameters<typeof FileLockProvider>[1]) => {
    const lock = new FileLockProvider(path, options);
    open.push(lock);
    return lock;
  };

  beforeEach(async () => {
    dir = await tmpDir('lock-file-faults-');
    path = join(dir.path, 'resource');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((lock) => lock.close()));
    await dir.remove();
  });

  it('takes over the lock of a SIGKILLed holder process after staleMs', async () => {
    const child = runNodeScript(holdFixture, { args: [path, '2000', '1000'], timeoutMs: 60_000 });
    const info = await heldByChild(path, child);
    process.kill(info.owner!.pid, 'SIGKILL');
    const killedAt = Date.now();
    expect((await child).signal).toBe('SIGKILL');
    const lastRefresh = Date.parse((await inspectFileLock(path))!.updatedAt);

    const lock = provider({
      staleMs: 2000,
      updateMs: 1000,
      backoff: { baseDelayMs: 50, maxDelayMs: 250, maxRetries: Number.POSITIVE_INFINITY },
    });
    const handle = await lock.acquire({ timeoutMs: 20_000 });
    // Not before the dead holder's entry was staleMs old; well within a generous bound after the kill.
    expect(handle.acquiredAt - lastRefresh).toBeGreaterThanOrEqual(2000);
    expect(handle.acquiredAt - killedAt).toBeLessThan(8000);
    expect((await lock.inspect())!.owner!.pid).toBe(process.pid);
    await handle.release();
  }, 60_000);

  it('removes the entry of a holder process that exits without releasing', async () => {
    const result = await runNodeScript(holdFixture, {
      args: [path, '10000', '5000', 'exit'],
      timeoutMs: 30_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.result).toMatchObject({ acquired: expect.any(Number) });
    expect(await inspectFileLock(path)).toBeNull();
  }, 40_000);

  it('wakes a waiter of another process when the holder releases, long before its backoff delay', async () => {
    const child = runNodeScript(holdFixture, { args: [path, '10000', '5000', '1500'], timeoutMs: 60_000 });
    await heldByChild(path, child);
    const lock = provider({
      backoff: { baseDelayMs: 15_000, maxDelayMs: 15_000, jitter: 'none', maxRetries: 2 },
    });
    const handle = await lock.acquire({ timeoutMs: 30_000 });
    const result = await child;
    expect(result.code, result.stderr).toBe(0);
    const released = (result.result as { released: number }).released;
    expect(handle.attempts).toBeGreaterThan(1);
    // fs.watch saw the entry disappear: the 15 s backoff sleep was cut short.
    expect(handle.acquiredAt - released).toBeLessThan(5000);
    await handle.release();
  }, 60_000);

  for (const how of ['remove', 'replace'] as const) {
    it(`a compromised lock (entry ${how}d) aborts handle.signal and the process survives`, async () => {
      const result = await runNodeScript(compromisedFixture, { args: [path, how], timeoutMs: 30_000 });
      expect(result.code, result.stderr).toBe(0);
      expect(result.result).toMatchObject({
        lost: true,
        code: 'ERR_LOCK_LOST',
        entryKept: true,
        stats: { lost: 1, held: 0 },
      });
      expect((result.result as { afterMs: number }).afterMs).toBeLessThan(5000);
    }, 40_000);
  }

  it('a compromised lock in this process aborts the signal, counts it, and the provider keeps working', async () => {
    const lock = provider({ staleMs: 2000, updateMs: 1000 });
    const handle = await lock.acquire();
    await unlink(lock.lockPath);
    const reason = await new Promise((resolve) => {
      handle.signal.addEventListener('abort', () => resolve(handle.signal.reason), { once: true });
    });
    expect(isLockLostError(reason)).toBe(true);
    expect(handle.released).toBe(true);
    await handle.release();
    expect(lock.stats()).toMatchObject({ lost: 1, held: 0 });
    const next = await lock.acquire({ timeoutMs: 1000 });
    await next.release();
  }, 10_000);

  it('a release after a takeover it did not notice fails with LockLostError and keeps the new owner', async () => {
    const lock = provider({ staleMs: 2000, updateMs: 1000 });
    const handle = await lock.acquire();
    const theirs = '1 1577836800000 0badf00d elsewhere';
    await unlink(lock.lockPath);
    await symlink(theirs, lock.lockPath);
    // A frozen event loop: no refresh ran, so our last refresh is older than staleMs / 2.
    blockEventLoop(1200);
    const error = await handle.release().catch((e: unknown) => e);
    expect(isLockLostError(error)).toBe(true);
    expect(await readlink(lock.lockPath)).toBe(theirs);
    expect(lock.stats()).toMatchObject({ lost: 1, held: 0 });
  });

  it('removes a stale entry only if it is still the one judged stale', async () => {
    // Two waiters judge the same dead holder's entry stale; the first replaces it with its own fresh
    // entry before the second removes "the stale one": the second must leave the fresh entry alone.
    const lockPath = `${path}.lock`;
    const slot = slotFor(lockPath, 1000);
    const fs = slot.fs as {
      stat(p: string, cb: (e: NodeJS.ErrnoException | null) => void): void;
      rmdir(p: string, cb: (e: NodeJS.ErrnoException | null) => void): void;
    };
    await symlink('1 1577836800000 0badf00d dead-host', lockPath);
    slot.phase = 'attempting';
    try {
      await new Promise<void>((resolve, reject) => fs.stat(lockPath, (e) => (e ? reject(e) : resolve())));
      await unlink(lockPath);
      await symlink('2 1764222545123 f00dfeed live-host', lockPath);
      const error = await new Promise((resolve) => fs.rmdir(lockPath, resolve));
      expect(error).toMatchObject({ code: 'ELOCKED' });
      expect(await readlink(lockPath)).toBe('2 1764222545123 f00dfeed live-host');
    } finally {
      slot.phase = 'idle';
      dropSlot(slot);
    }
  });

  it('takes over a stale plain proper-lockfile directory lock at once', async () => {
    await mkdir(`${path}.lock`);
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.lock`, old, old);
    const lock = provider({ staleMs: 5000 });
    const handle = await lock.tryAcquire();
    expect(handle).not.toBeNull();
    expect((await lock.inspect())!.owner!.pid).toBe(process.pid);
    await handle!.release();
  });

  it('rejects a missing lock directory with LockPathError and works once it exists', async () => {
    const nested = join(dir.path, 'missing', 'resource');
    const lock = new FileLockProvider(nested);
    open.push(lock);
    const error = await lock.acquire({ timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockPathError);
    expect(isLockPathError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_LOCK_PATH', path: `${nested}.lock`, cause: { code: 'ENOENT' } });
    expect((error as Error).message).toContain(join(dir.path, 'missing'));
    expect(lock.stats()).toMatchObject({ failures: 1, held: 0 });
    await mkdir(join(dir.path, 'missing'));
    const handle = await lock.acquire({ timeoutMs: 1000 });
    await handle.release();
  });

  it('rejects bad options and timeouts with TypeError/RangeError naming them', async () => {
    expect(() => new FileLockProvider('')).toThrow(TypeError);
    expect(() => new FileLockProvider(42 as unknown as string)).toThrow(/path/);
    expect(() => new FileLockProvider(path, { staleMs: 1000 })).toThrow(RangeError);
    expect(() => new FileLockProvider(path, { staleMs: 1000 })).toThrow(/staleMs.*1000/);
    expect(() => new FileLockProvider(path, { updateMs: 500 })).toThrow(/updateMs/);
    expect(() => new FileLockProvider(path, { staleMs: 4000, updateMs: 3000 })).toThrow(
      /updateMs must be <= staleMs/,
    );
    expect(() => new FileLockProvider(path, { staleMs: Number.NaN })).toThrow(TypeError);
    expect(() => new FileLockProvider(path, { fencing: 'yes' as unknown as boolean })).toThrow(/fencing/);
    expect(() => new FileLockProvider(path, { lockPath: '' })).toThrow(/lockPath/);
    expect(() => new FileLockProvider(path, { backoff: { baseDelayMs: -1 } })).toThrow(/baseDelayMs/);
    const lock = provider();
    await expect(lock.acquire({ timeoutMs: -1 })).rejects.toThrow(RangeError);
    await expect(lock.acquire({ timeoutMs: -1 })).rejects.toThrow(/timeoutMs/);
    // Bad input left nothing behind: the lock is free and usable.
    expect(await inspectFileLock(path)).toBeNull();
    const handle = await lock.acquire();
    await handle.release();
  });
});
