import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isTimeoutError, TimeoutError, withTimeout } from '../src/index';

/** Resolves after `ms` of (fake) time unless its signal aborts first. */
function work(ms: number, value = 'done') {
  return (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => resolve(value), ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
    });
}

describe('withTimeout', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves with the result when fn is fast enough and clears its timer', async () => {
    const result = withTimeout(work(50), 100);
    await vi.advanceTimersByTimeAsync(50);
    await expect(result).resolves.toBe('done');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with TimeoutError and aborts the signal given to fn', async () => {
    let inner: AbortSignal | undefined;
    const result = withTimeout((signal) => {
      inner = signal;
      return work(1000)(signal);
    }, 100).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    const error = await result;
    expect(isTimeoutError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT', timeoutMs: 100 });
    expect(inner?.aborted).toBe(true);
    expect(inner?.reason).toBe(error);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('times out even when fn ignores its signal', async () => {
    const result = withTimeout(() => new Promise(() => {}), 10).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(await result).toBeInstanceOf(TimeoutError);
  });

  it('follows an outer signal: aborts fn and rejects with its reason, then detaches', async () => {
    const controller = new AbortController();
    let inner: AbortSignal | undefined;
    const result = withTimeout(
      (signal) => {
        inner = signal;
        return work(1000)(signal);
      },
      500,
      { signal: controller.signal },
    ).catch((e: unknown) => e);
    controller.abort(new Error('client went away'));
    expect(await result).toMatchObject({ message: 'client went away' });
    expect(inner?.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once for an already aborted signal without calling fn', async () => {
    const fn = vi.fn(work(1));
    await expect(withTimeout(fn, 10, { signal: AbortSignal.abort(new Error('early')) })).rejects.toThrow(
      'early',
    );
    expect(fn).not.toHaveBeenCalled();
  });

  it('passes through errors of fn, sync or async', async () => {
    await expect(
      withTimeout(() => {
        throw new Error('sync');
      }, 10),
    ).rejects.toThrow('sync');
    await expect(withTimeout(() => Promise.reject(new Error('async')), 10)).rejects.toThrow('async');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('accepts Infinity (no timer) and plain values', async () => {
    await expect(withTimeout(() => 5, Number.POSITIVE_INFINITY)).resolves.toBe(5);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps the AsyncLocalStorage context', async () => {
    const als = new AsyncLocalStorage<number>();
    const result = als.run(7, () =>
      withTimeout(async () => {
        await Promise.resolve();
        return als.getStore();
      }, 100),
    );
    await expect(result).resolves.toBe(7);
  });

  it.each([
    [[undefined, 10], TypeError, /fn/],
    [[() => 1, -1], RangeError, /ms.*-1/],
    [[() => 1, Number.NaN], TypeError, /ms.*NaN/],
    [[() => 1, 10, { signal: 'x' }], TypeError, /signal/],
  ])('rejects bad arguments %#', async (args, type, message) => {
    const error = await (withTimeout as (...a: unknown[]) => Promise<unknown>)(...args).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
  });
});

describe('withTimeout with real timers', () => {
  it('leaves no active timer behind (process can exit)', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await withTimeout(() => Promise.resolve(1), 60_000);
    await withTimeout(() => new Promise(() => {}), 1).catch(() => {});
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).toBeLessThanOrEqual(before);
  });
});
