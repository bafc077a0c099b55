// Semaphore throughput against async-sema, p-limit and async-mutex (seed row "Semaphore Limited"), and
// the heap left behind by a million aborted waiters.
import { getHeapStatistics } from 'node:v8';
import { defineSuite, isQuick } from '@perf/bench';
import { Semaphore as MutexSemaphore } from 'async-mutex';
import { Sema } from 'async-sema';
import pLimit from 'p-limit';
import { Semaphore } from '../src/index';
import { MinimalLimiter, NodeSizedPadding } from './fixtures/minimal-limiter';

// Quick mode (a smoke run with a time budget) uses a tenth of every size.
const quick = isQuick();
const TASKS = quick ? 20_000 : 200_000;
// async-mutex serves ~10k tasks/s here whatever the batch size (measured at 2k/20k/50k), so 200k per call
// would take ~20 s; 20k keeps the run short without flattering it.
const MUTEX_TASKS = quick ? 2_000 : 20_000;
const noop = async (): Promise<void> => {};

/** Submits `n` no-op tasks at once (the `Promise.all(items.map(limit))` shape) and waits for all. */
function submitAll(n: number, submit: () => Promise<unknown>): Promise<unknown[]> {
  const tasks = new Array<Promise<unknown>>(n);
  for (let i = 0; i < n; i++) tasks[i] = submit();
  return Promise.all(tasks);
}

declare const gc: undefined | (() => void);

/** Used heap after pending callbacks ran and two full GCs. */
async function heapMb(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 10));
  gc?.();
  gc?.();
  return getHeapStatistics().used_heap_size / 1024 / 1024;
}

const ABORTED = quick ? 100_000 : 1_000_000;
// Ten waiters per AbortController: Node's EventTarget scans its listener list on every add (one signal
// shared by thousands of waits is quadratic in Node itself) and warns above 10 listeners, and a million
// pending warnings would be measured as our heap.
const PER_SIGNAL = 10;
const CHUNK = 10_000;
// Enough rounds for the optimising compiler to have run: its code lives in the measured heap too.
const WARMUP = quick ? 20_000 : 200_000;

/** Queues `n` waiters behind a held permit in chunks and aborts each chunk. */
async function abortWaiters(sem: Semaphore, n: number): Promise<void> {
  for (let done = 0; done < n; done += CHUNK) {
    const waits: Promise<unknown>[] = [];
    const controllers: AbortController[] = [];
    for (let i = 0; i < CHUNK; i += PER_SIGNAL) {
      const controller = new AbortController();
      controllers.push(controller);
      for (let j = 0; j < PER_SIGNAL; j++)
        waits.push(sem.acquire({ signal: controller.signal }).catch(() => 0));
    }
    for (const c of controllers) c.abort();
    await Promise.all(waits);
  }
}

/**
 * 1M aborted waiters, then the heap after GC against a baseline taken after a 200k-waiter warm-up (so
 * optimised code and inline caches are in the baseline, not counted as a leak).
 */
async function abortMillion(): Promise<{ metrics: Record<string, number>; ops: number }> {
  if (typeof gc !== 'function') throw new Error('run with --expose-gc (perf-bench does)');
  const sem = new Semaphore(1);
  const held = sem.tryAcquire()!;
  await abortWaiters(sem, WARMUP);
  const baseline = await heapMb();
  await abortWaiters(sem, ABORTED);
  const after = await heapMb();
  const stats = sem.stats();
  held.release();
  if (stats.aborted !== ABORTED + WARMUP || stats.waiting !== 0) {
    throw new Error(`unexpected stats ${JSON.stringify(stats)}`);
  }
  return {
    ops: ABORTED,
    metrics: {
      baselineHeapMb: Number(baseline.toFixed(2)),
      afterHeapMb: Number(after.toFixed(2)),
      heapGrowthPct: Number((((after - baseline) / baseline) * 100).toFixed(2)),
    },
  };
}

const QUEUED = quick ? 10_000 : 100_000;

/** Something that runs `fn` under a limit of 10 at once, the way its users call it. */
type Submit = (fn: () => Promise<unknown>) => Promise<unknown>;

/**
 * Heap held per queued task, in bytes: 10 tasks hold every permit on a gate, `QUEUED` no-op tasks are
 * queued behind them, and the used heap after GC is compared with the heap before they were queued. The
 * array keeping the callers' promises (8 bytes a task) is allocated before the baseline.
 */
async function bytesPerQueuedTask(submit: Submit): Promise<number> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const holders = Array.from({ length: 10 }, () => submit(() => gate));
  const waits = new Array<Promise<unknown>>(QUEUED);
  const before = await heapMb();
  for (let i = 0; i < QUEUED; i++) waits[i] = submit(noop);
  const after = await heapMb();
  open();
  await Promise.all([...holders, ...waits]);
  return Math.round(((after - before) * 1024 * 1024) / QUEUED);
}

/** Ours and each peer in turn; the figure is a size, so it is reported as metrics, not as a speed ratio. */
async function queuedMemory(): Promise<{ metrics: Record<string, number>; ops: number }> {
  if (typeof gc !== 'function') throw new Error('run with --expose-gc (perf-bench does)');
  const subjects: Record<string, () => Submit> = {
    ours: () => {
      const sem = new Semaphore(10);
      return (fn) => sem.run(fn);
    },
    asyncSema: () => {
      const sema = new Sema(10);
      return async (fn) => {
        await sema.acquire();
        try {
          return await fn();
        } finally {
          sema.release();
        }
      };
    },
    pLimit: () => pLimit(10),
    asyncMutex: () => {
      const sem = new MutexSemaphore(10);
      return (fn) => sem.runExclusive(fn);
    },
    minimalLimiter: () => {
      const limiter = new MinimalLimiter(10);
      return (fn) => limiter.run(fn);
    },
    minimalLimiterWithNodeSizedObject: () => {
      const limiter = new MinimalLimiter(10, () => new NodeSizedPadding());
      return (fn) => limiter.run(fn);
    },
  };
  const metrics: Record<string, number> = {};
  for (const [name, make] of Object.entries(subjects)) {
    // The first pass compiles and sizes the heap; the second is the figure.
    await bytesPerQueuedTask(make());
    metrics[`${name}BytesPerTask`] = await bytesPerQueuedTask(make());
  }
  return { ops: QUEUED * Object.keys(subjects).length * 2, metrics };
}

export default defineSuite({
  name: 'async-semaphore',
  scenarios: [
    {
      name: 'Semaphore Limited',
      table: 'Async Operations',
      opsPerCall: TASKS,
      setup: () => new Semaphore(10),
      fn: async (sem: Semaphore) => {
        await submitAll(TASKS, () => sem.run(noop));
        const { waitMs, acquired } = sem.stats();
        return { metrics: { concurrent: 10, waitP95Ms: Number(waitMs.p95.toFixed(2)), acquired } };
      },
      peers: [
        {
          name: 'async-sema',
          opsPerCall: TASKS,
          setup: () => new Sema(10),
          fn: (sema: Sema) =>
            submitAll(TASKS, async () => {
              await sema.acquire();
              try {
                await noop();
              } finally {
                sema.release();
              }
            }),
        },
        {
          name: 'p-limit',
          opsPerCall: TASKS,
          setup: () => pLimit(10),
          fn: (limit: ReturnType<typeof pLimit>) => submitAll(TASKS, () => limit(noop)),
        },
        {
          // Not a peer: the ceiling. Its ratio to p-limit bounds what a limiter with context, stats and
          // cancellation can reach against p-limit on this machine and Node version.
          name: 'minimal limiter (reference: no context, stats or cancellation)',
          reference: true,
          opsPerCall: TASKS,
          setup: () => new MinimalLimiter(10),
          fn: (limiter: MinimalLimiter) => submitAll(TASKS, () => limiter.run(noop)),
        },
        {
          // The same, holding as many bytes per queued task as our queue node: with 200k tasks queued the
          // run is mostly garbage collection, and this row shows what those bytes cost by themselves.
          name: 'minimal limiter holding a Semaphore-node-sized object per queued task (reference)',
          reference: true,
          opsPerCall: TASKS,
          setup: () => new MinimalLimiter(10, () => new NodeSizedPadding()),
          fn: (limiter: MinimalLimiter) => submitAll(TASKS, () => limiter.run(noop)),
        },
        {
          name: `async-mutex Semaphore (${MUTEX_TASKS / 1000}k tasks/call)`,
          opsPerCall: MUTEX_TASKS,
          setup: () => new MutexSemaphore(10),
          fn: (sem: MutexSemaphore) => submitAll(MUTEX_TASKS, () => sem.runExclusive(noop)),
        },
      ],
      targets: [
        { peer: 'async-sema', minRatio: 1.5 },
        { peer: 'p-limit', minRatio: 3 },
      ],
      minCalls: 5,
      warmupCalls: 2,
      // Interleaved rounds (ours, peers, ours, ...): a load change on the shared machine hits every
      // subject alike, and no subject inherits another's heap for its whole measurement.
      rounds: 5,
      timeMs: 2500,
    },
    {
      name: `Heap per queued task (${QUEUED / 1000}k queued behind 10 busy permits, after GC; ours and peers)`,
      table: 'Async Operations',
      opsPerCall: QUEUED,
      fn: queuedMemory,
      minCalls: 1,
      warmupCalls: 0,
      timeMs: 1,
    },
    {
      name: `Semaphore ${quick ? '100k' : '1M'} aborted waiters (heap after GC)`,
      table: 'Async Operations',
      opsPerCall: ABORTED,
      fn: abortMillion,
      minCalls: 1,
      warmupCalls: 0,
      timeMs: 1,
    },
  ],
});
