import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchProcessor, type BatchResultError, ClosedError, isBatchResultError } from '../src/index';

const double = async (items: number[]) => items.map((x) => x * 2);

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('BatchProcessor', () => {
  it('resolves each item with its own result and cuts batches at batchSize', async () => {
    const sizes: number[] = [];
    const batch = new BatchProcessor(
      async (items: number[]) => {
        sizes.push(items.length);
        return items.map((x) => `#${x}`);
      },
      { batchSize: 50, maxWaitMs: 5, maxConcurrentBatches: 2 },
    );
    const results = await Promise.all(Array.from({ length: 120 }, (_, i) => batch.process(i)));
    expect(results).toEqual(Array.from({ length: 120 }, (_, i) => `#${i}`));
    expect(sizes).toEqual([50, 50, 20]);
    expect(batch.stats()).toMatchObject({ batches: 3, items: 120, pending: 0, failedBatches: 0 });
    await batch.close();
  });

  it('waits maxWaitMs from the first item before dispatching a partial batch', async () => {
    vi.useFakeTimers();
    const fn = vi.fn(double);
    const batch = new BatchProcessor(fn, { batchSize: 10, maxWaitMs: 100 });
    const first = batch.process(1);
    await vi.advanceTimersByTimeAsync(60);
    const second = batch.process(2);
    await vi.advanceTimersByTimeAsync(39);
    expect(fn).not.toHaveBeenCalled();
    expect(batch.stats().pending).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledWith([1, 2]);
    await expect(Promise.all([first, second])).resolves.toEqual([2, 4]);
    expect(batch.stats().latencyMs.max).toBe(100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not wait for the timer once a batch is full', async () => {
    vi.useFakeTimers();
    const fn = vi.fn(double);
    const batch = new BatchProcessor(fn, { batchSize: 3, maxWaitMs: 10_000 });
    const results = Promise.all([batch.process(1), batch.process(2), batch.process(3)]);
    // No fake time passes: the full batch starts right after the submitting code.
    await expect(results).resolves.toEqual([2, 4, 6]);
    expect(fn).toHaveBeenCalledTimes(1);
    // The one lazy timer, left armed, finds nothing due when it fires and is not re-armed.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(vi.getTimerCount()).toBe(0);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('gives a later batch its full maxWaitMs when the timer was armed for an earlier one', async () => {
    vi.useFakeTimers();
    const fn = vi.fn(double);
    const batch = new BatchProcessor(fn, { batchSize: 2, maxWaitMs: 100 });
    const full = Promise.all([batch.process(1), batch.process(2)]);
    await expect(full).resolves.toEqual([2, 4]);
    await vi.advanceTimersByTimeAsync(50);
    const late = batch.process(3);
    await vi.advanceTimersByTimeAsync(99);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenLastCalledWith([3]);
    await expect(late).resolves.toBe(6);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with maxWaitMs 0 batches everything submitted in the same tick', async () => {
    const sizes: number[] = [];
    const batch = new BatchProcessor(
      async (items: number[]) => {
        sizes.push(items.length);
        return items;
      },
      { batchSize: 100, maxWaitMs: 0 },
    );
    const a = batch.process(1);
    // Submitted from a promise job of the same tick: still joins the first batch.
    const b = Promise.resolve().then(() => batch.process(2));
    await Promise.all([a, b]);
    await batch.process(3);
    expect(sizes).toEqual([2, 1]);
  });

  it('rejects only the caller whose slot holds an Error', async () => {
    const batch = new BatchProcessor(
      async (ids: number[]) => ids.map((id) => (id === 2 ? new Error(`no ${id}`) : id)),
      {
        batchSize: 3,
      },
    );
    const [one, two, three] = await Promise.allSettled([
      batch.process(1),
      batch.process(2),
      batch.process(3),
    ]);
    expect(one).toEqual({ status: 'fulfilled', value: 1 });
    expect(two.status === 'rejected' && (two.reason as Error).message).toBe('no 2');
    expect(three).toEqual({ status: 'fulfilled', value: 3 });
    expect(batch.stats()).toMatchObject({ failedItems: 1, failedBatches: 0 });
  });

  it('hands each caller its own result when the batch function reuses its output array', async () => {
    const out: number[] = [];
    const batch = new BatchProcessor(
      (items: number[]) => {
        out.length = 0;
        for (const x of items) out.push(x * 10);
        return out;
      },
      { batchSize: 2, maxConcurrentBatches: 2 },
    );
    // Both batches start in the same tick; the second refills `out` before the first one's callers resume.
    await expect(Promise.all([1, 2, 3, 4].map((x) => batch.process(x)))).resolves.toEqual([10, 20, 30, 40]);
  });

  it('serves batches larger than the shared per-slot callbacks', async () => {
    const n = 1500;
    const batch = new BatchProcessor(
      async (ids: number[]) => ids.map((id) => (id === n - 1 ? new Error('last') : -id)),
      { batchSize: n },
    );
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => batch.process(i)));
    expect(results[0]).toEqual({ status: 'fulfilled', value: -0 });
    expect(results[1200]).toEqual({ status: 'fulfilled', value: -1200 });
    expect(results[n - 1]!.status).toBe('rejected');
    expect(batch.stats()).toMatchObject({ batches: 1, items: n, failedItems: 1 });
  });

  it('a throwing batch rejects its own callers only', async () => {
    const boom = new Error('db down');
    let calls = 0;
    const batch = new BatchProcessor(
      async (items: number[]) => {
        calls++;
        if (calls === 1) throw boom;
        return items;
      },
      { batchSize: 2, maxConcurrentBatches: 2 },
    );
    const failed = [batch.process(1), batch.process(2)];
    const ok = [batch.process(3), batch.process(4)];
    await expect(failed[0]).rejects.toBe(boom);
    await expect(failed[1]).rejects.toBe(boom);
    await expect(Promise.all(ok)).resolves.toEqual([3, 4]);
    expect(batch.stats()).toMatchObject({ batches: 2, failedBatches: 1, failedItems: 2 });
  });

  it('a synchronous throw is handled like a rejection', async () => {
    const batch = new BatchProcessor(
      (() => {
        throw new TypeError('bad');
      }) as (items: number[]) => number[],
      { batchSize: 1 },
    );
    await expect(batch.process(1)).rejects.toBeInstanceOf(TypeError);
    expect(batch.stats().failedBatches).toBe(1);
  });

  it('a wrong result count rejects every caller of that batch with BatchResultError and keeps serving', async () => {
    let calls = 0;
    const batch = new BatchProcessor(
      async (items: number[]) => {
        calls++;
        if (calls === 1) return items.slice(1);
        if (calls === 2) return 'nope' as unknown as number[];
        return items;
      },
      { batchSize: 2 },
    );
    const first = await Promise.allSettled([batch.process(1), batch.process(2)]);
    for (const r of first) {
      expect(r.status).toBe('rejected');
      const error = (r as PromiseRejectedResult).reason as BatchResultError;
      expect(isBatchResultError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'ERR_BATCH_RESULT', expected: 2, received: 1 });
    }
    const second = [batch.process(3), batch.process(4)];
    for (const p of second) await expect(p).rejects.toMatchObject({ expected: 2, received: -1 });
    await expect(Promise.all([batch.process(5), batch.process(6)])).resolves.toEqual([5, 6]);
    expect(batch.stats()).toMatchObject({ failedBatches: 2, failedItems: 4, batches: 3 });
  });

  it('runs at most maxConcurrentBatches batches at once', async () => {
    let running = 0;
    let peak = 0;
    const batch = new BatchProcessor(
      async (items: number[]) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        return items;
      },
      { batchSize: 5, maxConcurrentBatches: 2 },
    );
    await Promise.all(Array.from({ length: 50 }, (_, i) => batch.process(i)));
    expect(peak).toBe(2);
    expect(batch.stats().batches).toBe(10);
  });

  it('flush dispatches a partial batch and waits for every batch in flight', async () => {
    vi.useFakeTimers();
    const gate = deferred();
    const batch = new BatchProcessor(
      async (items: number[]) => {
        await gate.promise;
        return items;
      },
      { batchSize: 10, maxWaitMs: 60_000 },
    );
    const item = batch.process(7);
    let flushed = false;
    const flush = batch.flush().then(() => {
      flushed = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(batch.stats()).toMatchObject({ pending: 0, runningBatches: 1 });
    expect(flushed).toBe(false);
    gate.resolve();
    await flush;
    await expect(item).resolves.toBe(7);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('flush waits for the batches dispatched before it, not for later ones', async () => {
    const gates = [deferred(), deferred()];
    let calls = 0;
    const batch = new BatchProcessor(
      async (items: number[]) => {
        await gates[calls++]!.promise;
        return items;
      },
      { batchSize: 1, maxConcurrentBatches: 2 },
    );
    const a = batch.process(1);
    const flushed = batch.flush();
    const b = batch.process(2);
    await new Promise((r) => setImmediate(r));
    expect(batch.stats().runningBatches).toBe(2);
    gates[0]!.resolve();
    await flushed;
    await expect(a).resolves.toBe(1);
    expect(batch.stats().runningBatches).toBe(1);
    // The later batch was still running: the flush did not wait for it.
    gates[1]!.resolve();
    await expect(b).resolves.toBe(2);
    await batch.flush();
  });

  it('close() drains pending items, then refuses new ones', async () => {
    vi.useFakeTimers();
    const batch = new BatchProcessor(double, { batchSize: 10, maxWaitMs: 60_000 });
    const pending = [batch.process(1), batch.process(2)];
    await batch.close();
    await expect(Promise.all(pending)).resolves.toEqual([2, 4]);
    await expect(batch.process(3)).rejects.toBeInstanceOf(ClosedError);
    expect(batch.stats().closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('close({ drain: false }) rejects items not yet handed over; running batches finish', async () => {
    const gate = deferred();
    const seen: number[][] = [];
    const batch = new BatchProcessor(
      async (items: number[]) => {
        seen.push(items);
        await gate.promise;
        return items;
      },
      { batchSize: 2, maxWaitMs: 60_000, maxConcurrentBatches: 1 },
    );
    const running = [batch.process(1), batch.process(2)];
    const queued = [batch.process(3), batch.process(4)];
    const pending = batch.process(5);
    await new Promise((r) => setImmediate(r));
    expect(batch.stats()).toMatchObject({ runningBatches: 1, queuedBatches: 1, pending: 1 });
    const closing = batch.close({ drain: false });
    gate.resolve();
    await closing;
    await expect(Promise.all(running)).resolves.toEqual([1, 2]);
    for (const p of [...queued, pending]) await expect(p).rejects.toBeInstanceOf(ClosedError);
    expect(seen).toEqual([[1, 2]]);
    expect(batch.stats()).toMatchObject({ queuedBatches: 0, runningBatches: 0, failedItems: 3 });
  });

  it('Symbol.asyncDispose drains', async () => {
    const batch = new BatchProcessor(double, { batchSize: 10, maxWaitMs: 60_000 });
    const item = batch.process(21);
    await batch[Symbol.asyncDispose]();
    await expect(item).resolves.toBe(42);
  });

  it('reports batch sizes, durations and latency as JSON-serialisable stats', async () => {
    const batch = new BatchProcessor(double, { batchSize: 4, maxWaitMs: 1 });
    await Promise.all([1, 2, 3, 4, 5].map((x) => batch.process(x)));
    const stats = batch.stats();
    expect(stats.size).toMatchObject({ count: 2, min: 1, max: 4, sum: 5 });
    expect(stats.durationMs.count).toBe(2);
    expect(stats.latencyMs.count).toBe(2);
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
  });

  it('rejects bad options with errors naming the option', () => {
    expect(() => new BatchProcessor('x' as unknown as typeof double)).toThrow(/fn must be a function/);
    expect(() => new BatchProcessor(double, { batchSize: 0 })).toThrow(/batchSize must be >= 1, received 0/);
    expect(() => new BatchProcessor(double, { batchSize: 2.5 })).toThrow(RangeError);
    expect(() => new BatchProcessor(double, { maxWaitMs: -1 })).toThrow(/maxWaitMs/);
    expect(() => new BatchProcessor(double, { maxWaitMs: Number.NaN })).toThrow(TypeError);
    expect(() => new BatchProcessor(double, { maxConcurrentBatches: 0 })).toThrow(/maxConcurrentBatches/);
  });

  it('preserves AsyncLocalStorage context after await process()', async () => {
    const als = new AsyncLocalStorage<string>();
    const batch = new BatchProcessor(double, { batchSize: 3, maxWaitMs: 1 });
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((id, i) =>
        als.run(id, async () => {
          const value = await batch.process(i);
          return [als.getStore(), value];
        }),
      ),
    );
    expect(results).toEqual([
      ['a', 0],
      ['b', 2],
      ['c', 4],
      ['d', 6],
    ]);
  });
});
