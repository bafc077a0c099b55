import { AsyncLocalStorage } from 'node:async_hooks';
import { lstat, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type TmpDir, tmpDir } from '@perf/testing';
import lockfile from 'proper-lockfile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FileLockProvider,
  inspectFileLock,
  isLockClosedError,
  isLockError,
  isLockTimeoutError,
  type LockHandle,
} from '../src/index';

// proper-lockfile's table of held locks: empty means no refresh timer of ours is left running.
const heldByProperLockfile = () =>
  Object.keys(createRequire(import.meta.url)('proper-lockfile/lib/lockfile').getLocks() as object);
// Timers and watchers that keep the process alive (unref'ed ones are not listed by Node).
const liveTimersAndWatchers = () =>
  process.getActiveResourcesInfo().filter((type) => type === 'Timeout' || type === 'FSEventWrap').length;
const watcherActive = (lock: FileLockProvider) =>
  (lock as unknown as { watcher: { active: boolean } }).watcher.active;

describe('FileLockProvider', () => {
  let dir: TmpDir;
  let path: string;
  const open: FileLockProvider[] = [];
  const provider = (options?: ConstructorParameters<typeof FileLockProvider>[1]) => {
    const lock = new FileLockProvider(path, options);
    open.push(lock);
    return lock;
  };

  beforeEach(async () => {
    dir = await tmpDir('lock-file-');
    path = join(dir.path, 'resource');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((lock) => lock.close()));
    await dir.remove();
  });

  it('locks a path whose file does not exist, without creating it', async () => {
    const lock = provider();
    const handle = await lock.acquire();
    expect(handle.key).toBe(`file:${path}`);
    expect(handle.attempts).toBe(1);
    expect((await lstat(`${path}.lock`)).isSymbolicLink()).toBe(true);
    await handle.release();
    await expect(lstat(`${path}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('excludes a second provider of the same path; tryAcquire returns null while held', async () => {
    const a = provider();
    const b = provider();
    const handle = await a.acquire();
    expect(await b.tryAcquire()).toBeNull();
    expect(await a.tryAcquire()).toBeNull();
    await handle.release();
    const next = await b.tryAcquire();
    expect(next).not.toBeNull();
    await next!.release();
  });

  it('excludes plain proper-lockfile users of the same path, both ways', async () => {
    const lock = provider();
    const release = await lockfile.lock(path, { realpath: false });
    expect(await lock.tryAcquire()).toBeNull();
    await release();
    const handle = await lock.acquire();
    await expect(lockfile.lock(path, { realpath: false })).rejects.toMatchObject({ code: 'ELOCKED' });
    await handle.release();
  });

  it('release is idempotent and await using releases', async () => {
    const lock = provider();
    {
      await using handle = await lock.acquire();
      expect(handle.released).toBe(false);
      await handle.release();
      await handle.release();
      expect(handle.released).toBe(true);
    }
    {
      await using _held = await lock.acquire();
      expect(await inspectFileLock(path)).not.toBeNull();
    }
    expect(await inspectFileLock(path)).toBeNull();
    expect(lock.stats()).toMatchObject({ acquisitions: 2, held: 0, lost: 0 });
  });

  it('inspect() returns the owner metadata while held and null when unlocked', async () => {
    const lock = provider({ staleMs: 4000 });
    expect(await FileLockProvider.inspect(path)).toBeNull();
    const before = Date.now();
    const handle = await lock.acquire();
    const info = await lock.inspect();
    expect(info).not.toBeNull();
    expect(info!.owner).toMatchObject({ pid: process.pid, hostname: hostname() });
    expect(Date.parse(info!.owner!.started)).toBeGreaterThanOrEqual(before - 1);
    expect(info!.owner!.token).toMatch(/^[0-9a-f]{8}$/);
    expect(info!.stale).toBe(false);
    expect(info!.lockPath).toBe(`${path}.lock`);
    // Readable by humans too: `readlink <path>.lock` → `<pid> <epoch ms> <token> <hostname>`.
    expect(await readlink(`${path}.lock`)).toBe(
      `${process.pid} ${Date.parse(info!.owner!.started)} ${info!.owner!.token} ${hostname()}`,
    );
    // Each acquisition has its own token.
    await handle.release();
    const again = await lock.acquire();
    expect((await lock.inspect())!.owner!.token).not.toBe(info!.owner!.token);
    await again.release();
    expect(await lock.inspect()).toBeNull();
  });

  it('inspect() reports a plain proper-lockfile directory lock without owner', async () => {
    await mkdir(`${path}.lock`);
    const info = await inspectFileLock(path, { staleMs: 60_000 });
    expect(info).toMatchObject({ owner: undefined, stale: false });
  });

  it('hands out strictly increasing fencing tokens from the counter file, shared by providers', async () => {
    const a = provider({ fencing: true });
    const b = provider({ fencing: true });
    const tokens: Array<bigint | undefined> = [];
    for (const lock of [a, b, a, b]) {
      await lock.withLock((handle) => {
        tokens.push(handle.fencingToken);
      });
    }
    expect(tokens).toEqual([1n, 2n, 3n, 4n]);
    expect(await readFile(`${path}.fence`, 'utf8')).toBe('4\n');
    const plain = provider();
    await plain.withLock((handle) => expect(handle.fencingToken).toBeUndefined());
  });

  it('fails clearly on a corrupt fencing counter and leaves the lock free', async () => {
    await writeFile(`${path}.fence`, 'not a number');
    const lock = provider({ fencing: true });
    const error = await lock.acquire().catch((e: unknown) => e);
    expect(isLockError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_LOCK_FENCE' });
    expect(await inspectFileLock(path)).toBeNull();
    await writeFile(`${path}.fence`, '41\n');
    const handle = await lock.acquire();
    expect(handle.fencingToken).toBe(42n);
    await handle.release();
  });

  it('a waiter in the same process gets the lock as soon as the holder releases', async () => {
    const a = provider();
    const b = provider({ backoff: { baseDelayMs: 5000, maxDelayMs: 5000, jitter: 'none' } });
    const held = await a.acquire();
    const waiting = b.acquire({ timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const releasedAt = performance.now();
    await held.release();
    const handle = await waiting;
    // Woken by the release, not by the 5 s backoff delay.
    expect(performance.now() - releasedAt).toBeLessThan(2500);
    expect(handle.attempts).toBeGreaterThan(1);
    await handle.release();
    expect(b.stats().contended).toBe(1);
  });

  it('times out with LockTimeoutError and counts it', async () => {
    const a = provider();
    const b = provider({ backoff: { baseDelayMs: 5, maxDelayMs: 20 } });
    const held = await a.acquire();
    const error = await b.acquire({ timeoutMs: 100 }).catch((e: unknown) => e);
    expect(isLockTimeoutError(error)).toBe(true);
    expect(b.stats().timeouts).toBe(1);
    await held.release();
  });

  it('an aborted wait rejects with the signal reason and leaves no watcher behind', async () => {
    const a = provider();
    const b = provider();
    const held = await a.acquire();
    const controller = new AbortController();
    const waiting = b.acquire({ signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(watcherActive(b)).toBe(true);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(watcherActive(b)).toBe(false);
    expect(b.stats().aborted).toBe(1);
    await held.release();
  });

  it('close() rejects waiters, releases held locks, and stops timers and watchers', async () => {
    const resourcesBefore = liveTimersAndWatchers();
    const a = provider({ staleMs: 2000, updateMs: 1000 });
    const b = provider({ staleMs: 2000, updateMs: 1000 });
    await a.acquire();
    const waiting = b.acquire();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(heldByProperLockfile()).toEqual([path]);
    await b.close();
    expect(isLockClosedError(await waiting.catch((e: unknown) => e))).toBe(true);
    await a.close();
    expect(await inspectFileLock(path)).toBeNull();
    expect(heldByProperLockfile()).toEqual([]);
    expect(watcherActive(a) || watcherActive(b)).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(liveTimersAndWatchers()).toBeLessThanOrEqual(resourcesBefore);
    await expect(a.acquire()).rejects.toMatchObject({ code: 'ERR_LOCK_CLOSED' });
  });

  it('leaves no refresh timer or watcher after contended acquisitions are released', async () => {
    const a = provider({ staleMs: 2000, updateMs: 1000 });
    const b = provider({ staleMs: 2000, updateMs: 1000 });
    const held = await a.acquire();
    const waiting = b.acquire();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await held.release();
    const handle = await waiting;
    await handle.release();
    expect(heldByProperLockfile()).toEqual([]);
    expect(watcherActive(b)).toBe(false);
  });

  it('propagates AsyncLocalStorage context through a contended acquisition', async () => {
    const als = new AsyncLocalStorage<string>();
    const a = provider();
    const b = provider();
    const held = await a.acquire();
    const seen = als.run('request-7', () =>
      b.withLock(async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return als.getStore();
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await held.release();
    expect(await seen).toBe('request-7');
  });

  it('withLock releases when fn throws and passes the live handle', async () => {
    const lock = provider();
    let inside: LockHandle | undefined;
    await expect(
      lock.withLock((handle) => {
        inside = handle;
        expect(handle.signal.aborted).toBe(false);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(inside!.released).toBe(true);
    expect(await inspectFileLock(path)).toBeNull();
  });
});
