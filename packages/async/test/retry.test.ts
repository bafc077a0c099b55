import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RetryContext, type RetryEvent, retry } from '../src/index';

const noDelay = { baseDelayMs: 0, maxDelayMs: 0 };

/** A function that fails `failures` times, then returns `value`. */
function flaky<T>(failures: number, value: T) {
  const calls: RetryContext[] = [];
  const fn = (context: RetryContext) => {
    calls.push(context);
    if (calls.length <= failures) return Promise.reject(new Error(`failure ${calls.length}`));
    return Promise.resolve(value);
  };
  return { fn, calls };
}

describe('retry', () => {
  it('returns the first success without waiting', async () => {
    const { fn, calls } = flaky(0, 'v');
    await expect(retry(fn)).resolves.toBe('v');
    expect(calls).toEqual([{ attempt: 1, signal: undefined }]);
  });

  it('retries failures and passes the attempt number', async () => {
    const { fn, calls } = flaky(2, 'v');
    await expect(retry(fn, { maxAttempts: 3, backoff: noDelay })).resolves.toBe('v');
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
  });

  it('rethrows the last error unchanged when attempts run out', async () => {
    const { fn, calls } = flaky(10, 'v');
    const error = await retry(fn, { maxAttempts: 4, backoff: noDelay }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('failure 4');
    expect(calls).toHaveLength(4);
  });

  it('stops when the backoff is exhausted (maxRetries)', async () => {
    const { fn, calls } = flaky(10, 'v');
    await expect(
      retry(fn, { maxAttempts: Infinity, backoff: { ...noDelay, maxRetries: 2 } }),
    ).rejects.toThrow('failure 3');
    expect(calls).toHaveLength(3);
  });

  it('stops at once when retryIf says no, and tells retryIf the attempt', async () => {
    const { fn, calls } = flaky(10, 'v');
    const retryIf = vi.fn((_error: unknown, attempt: number) => attempt < 2);
    await expect(retry(fn, { maxAttempts: 5, backoff: noDelay, retryIf })).rejects.toThrow('failure 2');
    expect(calls).toHaveLength(2);
    expect(retryIf.mock.calls.map((c) => c[1])).toEqual([1, 2]);
  });

  it('reports each retry to onRetry with the delay it is about to wait', async () => {
    const { fn } = flaky(2, 'v');
    const events: RetryEvent[] = [];
    await retry(fn, { backoff: noDelay, onRetry: (e) => void events.push(e) });
    expect(events.map((e) => [e.attempt, (e.error as Error).message, e.delayMs])).toEqual([
      [1, 'failure 1', 0],
      [2, 'failure 2', 0],
    ]);
  });

  it('accepts synchronous functions and non-Error throws', async () => {
    let n = 0;
    await expect(
      retry(
        () => {
          if (++n < 2) throw 'plain string';
          return n;
        },
        { backoff: noDelay },
      ),
    ).resolves.toBe(2);
    await expect(retry(() => Promise.reject(7), { maxAttempts: 2, backoff: noDelay })).rejects.toBe(7);
  });

  it('keeps the AsyncLocalStorage context across retries', async () => {
    const als = new AsyncLocalStorage<string>();
    const seen: Array<string | undefined> = [];
    await als.run('ctx', () =>
      retry(
        ({ attempt }) => {
          seen.push(als.getStore());
          return attempt < 3 ? Promise.reject(new Error('x')) : Promise.resolve();
        },
        { backoff: { baseDelayMs: 1, maxDelayMs: 1, jitter: 'none' } },
      ),
    );
    expect(seen).toEqual(['ctx', 'ctx', 'ctx']);
  });

  it.each([
    [{ maxAttempts: 0 }, RangeError, /maxAttempts.*0/],
    [{ maxAttempts: 1.5 }, RangeError, /maxAttempts.*1\.5/],
    [{ maxAttempts: '3' }, TypeError, /maxAttempts.*"3"/],
    [{ retryIf: true }, TypeError, /retryIf/],
    [{ onRetry: 1 }, TypeError, /onRetry/],
    [{ signal: {} }, TypeError, /signal/],
    [{ backoff: { baseDelayMs: -1 } }, RangeError, /retry: baseDelayMs.*-1/],
    [{ backoff: { jitter: 'some' } }, TypeError, /jitter/],
  ])('rejects bad option %o before calling fn', async (options, type, message) => {
    const fn = vi.fn(() => 1);
    const error = await retry(fn, options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
    expect(fn).not.toHaveBeenCalled();
  });

  it('validates every backoff option (the resolver is on the hot path and has inline checks)', async () => {
    const bad: Array<[object, RegExp]> = [
      [{ baseDelayMs: '5' }, /baseDelayMs must be a number, received "5"/],
      [{ maxDelayMs: '5000' }, /maxDelayMs must be a number/],
      [{ maxDelayMs: -1 }, /maxDelayMs must be >= 0/],
      [{ baseDelayMs: 10, maxDelayMs: 5 }, /maxDelayMs must be >= baseDelayMs \(10\), received 5/],
      [{ multiplier: 0.5 }, /multiplier must be >= 1/],
      [{ multiplier: Number.POSITIVE_INFINITY }, /multiplier must be finite/],
      [{ maxRetries: 1.5 }, /maxRetries must be an integer/],
      [{ maxRetries: '3' }, /maxRetries must be a number/],
      [{ deadlineMs: Number.NaN }, /deadlineMs must be a number, received NaN/],
      [{ random: 1 }, /random must be a function/],
    ];
    for (const [backoff, message] of bad) {
      await expect(retry(() => 1, { backoff: backoff as never })).rejects.toThrow(message);
    }
    await expect(
      retry(() => 1, {
        backoff: { maxRetries: Number.POSITIVE_INFINITY, maxDelayMs: Number.POSITIVE_INFINITY, jitter: true },
      }),
    ).resolves.toBe(1);
  });

  it('rejects a non-function', async () => {
    await expect(retry(undefined as never)).rejects.toThrow(TypeError);
  });

  it('calls fn exactly min(failures + 1, maxAttempts) times (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        async (failures, maxAttempts) => {
          const { fn, calls } = flaky(failures, 'v');
          const outcome = await retry(fn, { maxAttempts, backoff: noDelay }).then(
            () => 'ok',
            () => 'failed',
          );
          expect(calls).toHaveLength(Math.min(failures + 1, maxAttempts));
          expect(outcome).toBe(failures < maxAttempts ? 'ok' : 'failed');
        },
      ),
    );
  });
});

describe('retry with fake timers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits the backoff delay between attempts', async () => {
    const { fn, calls } = flaky(2, 'v');
    const result = retry(fn, { backoff: { baseDelayMs: 100, multiplier: 2, jitter: 'none' } });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(199);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe('v');
  });

  it('aborts the wait between attempts with signal.reason and clears its timer', async () => {
    const { fn, calls } = flaky(10, 'v');
    const controller = new AbortController();
    const result = retry(fn, { signal: controller.signal, backoff: { baseDelayMs: 1000, jitter: 'none' } });
    const settled = result.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort(new Error('cancelled'));
    expect(await settled).toMatchObject({ message: 'cancelled' });
    expect(vi.getTimerCount()).toBe(0);
    expect(calls).toHaveLength(1);
  });

  it('checks the signal before the first attempt and after each attempt', async () => {
    const fn = vi.fn(() => 1);
    await expect(retry(fn, { signal: AbortSignal.abort(new Error('early')) })).rejects.toThrow('early');
    expect(fn).not.toHaveBeenCalled();

    const controller = new AbortController();
    const failing = vi.fn(({ signal }: RetryContext) => {
      expect(signal).toBe(controller.signal);
      controller.abort(new Error('during'));
      return Promise.reject(new Error('attempt failed'));
    });
    await expect(retry(failing, { signal: controller.signal })).rejects.toThrow('during');
    expect(failing).toHaveBeenCalledTimes(1);
  });

  it('stops at the backoff deadline', async () => {
    const { fn, calls } = flaky(100, 'v');
    const result = retry(fn, {
      maxAttempts: Infinity,
      backoff: { baseDelayMs: 100, jitter: 'none', multiplier: 1, deadlineMs: 250 },
    }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await result).toMatchObject({ message: 'failure 4' }); // t=0,100,200,250
    expect(calls).toHaveLength(4);
  });
});
