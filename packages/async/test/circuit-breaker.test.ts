import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BrokenCircuitError,
  CircuitBreaker,
  type CircuitStateChange,
  isBrokenCircuitError,
  isClosedError,
  isIsolatedCircuitError,
} from '../src/index';

const ok = () => Promise.resolve('ok');
const boom = () => Promise.reject(new Error('boom'));

async function fail(breaker: CircuitBreaker, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) await expect(breaker.execute(boom)).rejects.toThrow('boom');
}
async function succeed(breaker: CircuitBreaker, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) await expect(breaker.execute(ok)).resolves.toBe('ok');
}

describe('CircuitBreaker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes results and errors through while closed', async () => {
    const breaker = new CircuitBreaker();
    await expect(breaker.execute(() => 42)).resolves.toBe(42);
    await fail(breaker);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({
      calls: 2,
      successes: 1,
      failures: 1,
      rejected: 0,
      windowCalls: 2,
    });
  });

  it('opens when the failure rate reaches the threshold once minimumCalls are in the window', async () => {
    const breaker = new CircuitBreaker({ failureRateThreshold: 0.5, minimumCalls: 4 });
    await fail(breaker, 3); // 3 calls < minimumCalls: stays closed even at 100 % failures
    expect(breaker.state).toBe('closed');
    await succeed(breaker); // 4 calls, 75 % — but only a failure re-evaluates
    expect(breaker.state).toBe('closed');
    await fail(breaker); // 5 calls, 80 %
    expect(breaker.state).toBe('open');
    const error = await breaker.execute(ok).catch((e: unknown) => e);
    expect(isBrokenCircuitError(error)).toBe(true);
    expect((error as BrokenCircuitError).code).toBe('ERR_CIRCUIT_OPEN');
    expect((error as BrokenCircuitError).retryAfterMs).toBe(10_000);
    expect(breaker.stats()).toMatchObject({ state: 'open', rejected: 1, opened: 1 });
  });

  it('counts closed-path successes grouped between clock reads before any decision and in stats', async () => {
    // Successes are placed in the window in groups of up to 8 (one clock read per group); a failure
    // must see the group's successes, or 6 successes + 5 failures would look like 5 calls.
    const breaker = new CircuitBreaker({
      failureRateThreshold: 0.5,
      minimumCalls: 10,
      latencySampleEvery: 1000,
    });
    await succeed(breaker, 6);
    expect(breaker.stats()).toMatchObject({ windowCalls: 6, windowFailures: 0 });
    await succeed(breaker, 13); // 19: two groups, three pending
    expect(breaker.stats().windowCalls).toBe(19);
    const grouped = new CircuitBreaker({
      failureRateThreshold: 0.5,
      minimumCalls: 10,
      latencySampleEvery: 1000,
    });
    await succeed(grouped, 6);
    await fail(grouped, 5); // 11 calls, 45 %
    expect(grouped.state).toBe('closed');
    await fail(grouped); // 12 calls, 50 %
    expect(grouped.state).toBe('open');
  });

  it('lets grouped successes expire with the window', async () => {
    const breaker = new CircuitBreaker({ failureRateThreshold: 0.5, minimumCalls: 4, windowMs: 10_000 });
    await succeed(breaker, 20);
    vi.advanceTimersByTime(10_001);
    await fail(breaker, 4); // the 20 successes left the window: 4 calls, 100 %
    expect(breaker.state).toBe('open');
  });

  it('stays closed below the threshold', async () => {
    const breaker = new CircuitBreaker({ failureRateThreshold: 0.5, minimumCalls: 4 });
    await succeed(breaker, 6);
    await fail(breaker, 5); // 5 / 11 < 0.5
    expect(breaker.state).toBe('closed');
    await fail(breaker); // 6 / 12 = 0.5
    expect(breaker.state).toBe('open');
  });

  it('does not call fn while open', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1 });
    await fail(breaker);
    const fn = vi.fn(ok);
    await expect(breaker.execute(fn)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(fn).not.toHaveBeenCalled();
  });

  it('moves open -> half-open after openMs, then half-open -> closed after enough successful trials', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 1000, halfOpenSuccessThreshold: 2 });
    await fail(breaker);
    vi.advanceTimersByTime(999);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(breaker.state).toBe('half-open');
    await succeed(breaker);
    expect(breaker.state).toBe('half-open');
    await succeed(breaker);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ windowCalls: 0, windowFailures: 0 });
  });

  it('reopens on a failed trial and waits openMs again', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 1000 });
    await fail(breaker);
    vi.advanceTimersByTime(1000);
    await fail(breaker);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(500);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(500);
    expect(breaker.state).toBe('half-open');
    expect(breaker.stats().opened).toBe(2);
  });

  it('admits at most halfOpenMaxCalls trials at once', async () => {
    const breaker = new CircuitBreaker({
      minimumCalls: 1,
      openMs: 10,
      halfOpenMaxCalls: 2,
      halfOpenSuccessThreshold: 2,
    });
    await fail(breaker);
    vi.advanceTimersByTime(10);
    const gates: Array<() => void> = [];
    const slow = () => new Promise<string>((resolve) => gates.push(() => resolve('trial')));
    const a = breaker.execute(slow);
    const b = breaker.execute(slow);
    const third = await breaker.execute(slow).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(BrokenCircuitError);
    expect((third as BrokenCircuitError).retryAfterMs).toBe(0);
    for (const open of gates) open();
    await expect(Promise.all([a, b])).resolves.toEqual(['trial', 'trial']);
    expect(breaker.state).toBe('closed');
  });

  it('forgets failures that rolled out of the window', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 4, windowMs: 1000, windowBuckets: 10 });
    await fail(breaker, 3);
    vi.advanceTimersByTime(1000); // those three fall out
    expect(breaker.stats()).toMatchObject({ windowCalls: 0, windowFailures: 0 });
    await fail(breaker, 3);
    expect(breaker.state).toBe('closed');
    vi.advanceTimersByTime(500); // half the window later, the last three still count
    await fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('slides bucket by bucket', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 100, windowMs: 1000, windowBuckets: 4 });
    await fail(breaker); // bucket [0, 250)
    vi.advanceTimersByTime(250);
    await succeed(breaker, 2); // bucket [250, 500)
    vi.advanceTimersByTime(750); // t = 1000: the first bucket expired, the second has not
    expect(breaker.stats()).toMatchObject({ windowCalls: 2, windowFailures: 0 });
    vi.advanceTimersByTime(250);
    expect(breaker.stats()).toMatchObject({ windowCalls: 0 });
  });

  it('counts only errors isFailure accepts', async () => {
    const breaker = new CircuitBreaker({
      minimumCalls: 1,
      isFailure: (e) => (e as Error).message !== 'not found',
    });
    await expect(breaker.execute(() => Promise.reject(new Error('not found')))).rejects.toThrow('not found');
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ failures: 0, successes: 1 });
    await fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('passes the signal to fn and does not count its own abort as a failure', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1 });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = breaker.execute(
      (signal) =>
        new Promise((_, reject) => {
          seen = signal;
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { signal: controller.signal },
    );
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    expect(seen).toBe(controller.signal);
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(ok, { signal: controller.signal })).rejects.toThrow('stop');
  });

  it('isolate() opens by hand until every handle is released', async () => {
    const breaker = new CircuitBreaker();
    const first = breaker.isolate();
    const second = breaker.isolate();
    expect(breaker.state).toBe('isolated');
    const error = await breaker.execute(ok).catch((e: unknown) => e);
    expect(isIsolatedCircuitError(error)).toBe(true);
    expect(isBrokenCircuitError(error)).toBe(true);
    first.release();
    first.release(); // idempotent: does not release the second isolation
    expect(breaker.state).toBe('isolated');
    second[Symbol.dispose]();
    expect(breaker.state).toBe('closed');
    await succeed(breaker);
  });

  it('isolate() wins over openMs elapsing', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 10 });
    await fail(breaker);
    const handle = breaker.isolate();
    vi.advanceTimersByTime(100);
    expect(breaker.state).toBe('isolated');
    handle.release();
  });

  it('emits every transition to listeners and stops after unsubscribe', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 10 });
    const changes: CircuitStateChange[] = [];
    const off = breaker.onStateChange((c) => changes.push(c));
    await fail(breaker);
    vi.advanceTimersByTime(10);
    await succeed(breaker);
    breaker.isolate().release();
    off();
    await fail(breaker);
    expect(changes).toEqual([
      { from: 'closed', to: 'open', reason: 'failure-rate' },
      { from: 'open', to: 'half-open', reason: 'open-elapsed' },
      { from: 'half-open', to: 'closed', reason: 'trial-success' },
      { from: 'closed', to: 'isolated', reason: 'isolated' },
      { from: 'isolated', to: 'closed', reason: 'released' },
    ]);
  });

  it('ignores results of calls that started before a transition', async () => {
    const breaker = new CircuitBreaker({ minimumCalls: 1, openMs: 10 });
    let rejectLate!: (e: Error) => void;
    const late = breaker.execute(() => new Promise((_, reject) => (rejectLate = reject)));
    await fail(breaker); // opens
    vi.advanceTimersByTime(10);
    await succeed(breaker); // trial closes it
    rejectLate(new Error('late'));
    await expect(late).rejects.toThrow('late');
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().windowFailures).toBe(0);
  });

  it('records latency and keeps stats JSON-serialisable', async () => {
    const breaker = new CircuitBreaker();
    await breaker.execute(async () => {
      await vi.advanceTimersByTimeAsync(20);
    });
    const stats = breaker.stats();
    expect(stats.latencyMs.count).toBe(1);
    expect(stats.latencyMs.max).toBeGreaterThanOrEqual(19);
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
  });

  it('times one call in latencySampleEvery (the first one included)', async () => {
    const sampled = new CircuitBreaker({ latencySampleEvery: 4 });
    const every = new CircuitBreaker({ latencySampleEvery: 1 });
    for (let i = 0; i < 9; i++) {
      await sampled.execute(ok);
      await every.execute(ok);
    }
    expect(sampled.stats().latencyMs.count).toBe(3); // calls 1, 5, 9
    expect(sampled.stats().calls).toBe(9);
    expect(every.stats().latencyMs.count).toBe(9);
  });

  it('keeps the AsyncLocalStorage context of the caller', async () => {
    const als = new AsyncLocalStorage<string>();
    const breaker = new CircuitBreaker();
    const seen = await als.run('request-1', () =>
      breaker.execute(async () => {
        await Promise.resolve();
        return als.getStore();
      }),
    );
    expect(seen).toBe('request-1');
    await als.run('request-2', async () => {
      await breaker.execute(ok);
      expect(als.getStore()).toBe('request-2');
    });
  });

  it('refuses calls after close()', async () => {
    const breaker = new CircuitBreaker();
    breaker.close();
    const error = await breaker.execute(ok).catch((e: unknown) => e);
    expect(isClosedError(error)).toBe(true);
  });

  it('keeps working when a listener throws', async () => {
    vi.useRealTimers();
    const breaker = new CircuitBreaker({ minimumCalls: 1 });
    const thrown = new Promise((resolve) => process.once('uncaughtException', resolve));
    breaker.onStateChange(() => {
      throw new Error('listener bug');
    });
    await fail(breaker);
    expect(breaker.state).toBe('open');
    await expect(thrown).resolves.toMatchObject({ message: 'listener bug' });
  });

  it.each([
    [{ failureRateThreshold: 0 }, RangeError, /failureRateThreshold.*0/],
    [{ failureRateThreshold: 1.5 }, RangeError, /failureRateThreshold.*1\.5/],
    [{ failureRateThreshold: Number.NaN }, TypeError, /failureRateThreshold.*NaN/],
    [{ minimumCalls: 0 }, RangeError, /minimumCalls.*0/],
    [{ minimumCalls: 2.5 }, RangeError, /minimumCalls.*2\.5/],
    [{ windowMs: 0 }, RangeError, /windowMs/],
    [{ windowBuckets: 0 }, RangeError, /windowBuckets/],
    [{ openMs: -1 }, RangeError, /openMs.*-1/],
    [{ halfOpenMaxCalls: 0 }, RangeError, /halfOpenMaxCalls/],
    [{ halfOpenSuccessThreshold: '2' }, TypeError, /halfOpenSuccessThreshold.*"2"/],
    [{ isFailure: 'yes' }, TypeError, /isFailure/],
    [{ latencySampleEvery: 0 }, RangeError, /latencySampleEvery.*0/],
  ])('rejects bad option %o', (options, type, message) => {
    expect(() => new CircuitBreaker(options as never)).toThrow(type);
    expect(() => new CircuitBreaker(options as never)).toThrow(message);
  });

  it('rejects a bad execute signal without changing state', async () => {
    const breaker = new CircuitBreaker();
    await expect(breaker.execute(ok, { signal: 'nope' as never })).rejects.toThrow(TypeError);
    expect(breaker.stats()).toMatchObject({ calls: 0, state: 'closed' });
    expect(() => breaker.onStateChange(undefined as never)).toThrow(TypeError);
  });
});
