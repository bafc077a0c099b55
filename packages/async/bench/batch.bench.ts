// BatchProcessor against dataloader (seed row "Batch Processing"), and the measurement behind the choice
// of BatchProcessor's concurrency bound: this package's Semaphore or p-limit (the design-card default).
import { defineSuite, type Scenario } from '@perf/bench';
import DataLoader from 'dataloader';
import pLimit from 'p-limit';
import { BatchProcessor, Semaphore } from '../src/index';

const ITEMS = 10_000;
const BATCH = 50;

/** The bulk call: one result per item, like a `where id = any($1)` lookup mapped back to its keys. */
const lookup = async (ids: readonly number[]): Promise<number[]> => ids.map((id) => id * 2);

/** Submits ITEMS single-item calls in one tick and checks every caller got its own result. */
async function loadAll(load: (id: number) => Promise<number>): Promise<void> {
  const all = new Array<Promise<number>>(ITEMS);
  for (let i = 0; i < ITEMS; i++) all[i] = load(i);
  const results = await Promise.all(all);
  for (let i = 0; i < ITEMS; i += 997) {
    if (results[i] !== i * 2) throw new Error(`item ${i} got ${results[i]}`);
  }
}

/**
 * Warms the JIT in setup, for ours and the peer alike: quick mode allows one warm-up call, and the first
 * dozen calls of either subject run 10-30x slower than steady state (measured), which would make the
 * quick ratio a coin toss.
 */
async function warm(load: (id: number) => Promise<number>): Promise<void> {
  for (let i = 0; i < 30; i++) await loadAll(load);
}

const DISPATCHES = 2_000;
const CONCURRENCY = 4;
/** What one dispatched batch costs once started: an async call with a microtask of work. */
const batchWork = async (): Promise<number> => 1;

/** Dispatches DISPATCHES batches through a concurrency bound, the way BatchProcessor does. */
function dispatchAll(run: (fn: () => Promise<number>) => Promise<number>): Promise<number[]> {
  const all = new Array<Promise<number>>(DISPATCHES);
  for (let i = 0; i < DISPATCHES; i++) all[i] = run(batchWork);
  return Promise.all(all);
}

const DATALOADER = 'dataloader (cache off, unbounded concurrency)';

/** BatchProcessor(batchSize 50) against dataloader (maxBatchSize 50, cache off) on the same loads. */
function batchScenario(name: string, maxConcurrentBatches: number): Scenario<any> {
  return {
    name,
    table: 'Async Operations',
    opsPerCall: ITEMS,
    setup: async () => {
      const batch = new BatchProcessor(lookup, { batchSize: BATCH, maxWaitMs: 1, maxConcurrentBatches });
      await warm((id) => batch.process(id));
      return batch;
    },
    fn: async (batch: BatchProcessor<number, number>) => {
      await loadAll((id) => batch.process(id));
      const { size, batches } = batch.stats();
      return { metrics: { batchSize: BATCH, maxConcurrentBatches, meanBatch: size.mean, batches } };
    },
    teardown: (batch: BatchProcessor<number, number>) => batch.close(),
    peers: [
      {
        name: DATALOADER,
        opsPerCall: ITEMS,
        setup: async () => {
          const loader = new DataLoader<number, number>(lookup, { cache: false, maxBatchSize: BATCH });
          await warm((id) => loader.load(id));
          return loader;
        },
        fn: (loader: DataLoader<number, number>) => loadAll((id) => loader.load(id)),
      },
    ],
    targets: [{ peer: DATALOADER, minRatio: 1 }],
    // Interleaved rounds (ours, peer, ours, ...): see the semaphore bench.
    rounds: 5,
    timeMs: 2500,
  };
}

export default defineSuite({
  name: 'async-batch',
  scenarios: [
    batchScenario('Batch Processing', Number.POSITIVE_INFINITY),
    batchScenario('Batch Processing (4 concurrent batches)', CONCURRENCY),
    {
      name: 'Batch flush bound: @perf/async Semaphore.run',
      table: 'BatchProcessor internals',
      opsPerCall: DISPATCHES,
      setup: () => new Semaphore(CONCURRENCY),
      fn: (sem: Semaphore) => dispatchAll((fn) => sem.run(fn)),
      peers: [
        {
          name: 'p-limit',
          opsPerCall: DISPATCHES,
          setup: () => pLimit(CONCURRENCY),
          fn: (limit: ReturnType<typeof pLimit>) => dispatchAll((fn) => limit(fn)),
        },
      ],
      targets: [{ peer: 'p-limit', minRatio: 1 }],
      rounds: 5,
      timeMs: 2500,
    },
  ],
});
