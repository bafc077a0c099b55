// Achieved rate and CPU of RateLimiter against bottleneck and limiter (seed row "Rate Limited (100/s)").
// Each call queues 2 s worth of acquisitions at once on an emptied bucket and waits for the last grant,
// so Ops/sec *is* the achieved rate; the target is accuracy (±1%), not a ratio.
import { defineSuite, isQuick, type Scenario } from '@perf/bench';
import Bottleneck from 'bottleneck';
import { RateLimiter as TokenLimiter } from 'limiter';
import { RateLimiter } from '../src/index';

// The issue asks for >= 2 s per measurement; quick (CI smoke) runs use 0.5 s.
const SECONDS = isQuick() ? 0.5 : 2;
/** A subject that has not granted everything by then is cut off (bottleneck's minTime at 10,000/s). */
const CUTOFF_MS = SECONDS * 1000 * 3;

/** Something that grants one token per call, FIFO or not. */
type Acquire = () => Promise<unknown>;

/**
 * Queues `rate × SECONDS` acquisitions at once and waits for the last grant. `achievedRate` is the
 * steady-state rate over the second half (the last second): tokens that refilled between setup and this
 * call (the harness runs a GC in between) are granted at once and would inflate a whole-run rate.
 * `cpuPctOfCore` is user + system CPU over the whole wait, in % of one core.
 */
async function measureRate(rate: number, acquire: Acquire) {
  const n = rate * SECONDS;
  const grantedAt = new Float64Array(n);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const all = new Array<Promise<unknown>>(n);
  let granted = 0;
  for (let i = 0; i < n; i++) {
    all[i] = acquire().then(() => {
      grantedAt[i] = performance.now();
      granted++;
    });
  }
  let cutoff: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(all),
    new Promise((resolve) => {
      cutoff = setTimeout(resolve, CUTOFF_MS);
    }),
  ]);
  clearTimeout(cutoff);
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const from = Math.floor(n / 2);
  // Cut off: the rate is what it granted in the time it had.
  const achieved =
    granted < n
      ? granted / (elapsedMs / 1000)
      : (n - 1 - from) / ((grantedAt[n - 1]! - grantedAt[from]!) / 1000);
  return {
    ops: granted,
    metrics: {
      ...(granted < n ? { cutOffAfterMs: CUTOFF_MS } : {}),
      achievedRate: Number(achieved.toFixed(2)),
      errorPct: Number((((achieved - rate) / rate) * 100).toFixed(2)),
      cpuPctOfCore: Number((((used.user + used.system) / 1000 / elapsedMs) * 100).toFixed(2)),
    },
  };
}

/**
 * The CPU floor of waking up `rate` times a second: a chain of bare `setTimeout(1000 / rate)` calls, no
 * limiter at all. Shown beside the 100/s row so the limiter's own share of the CPU figure is visible.
 */
async function bareTimerChain(rate: number) {
  return measureRate(rate, () => {
    const previous = chain;
    chain = previous.then(() => new Promise((resolve) => setTimeout(resolve, 1000 / rate)));
    return chain;
  });
}
let chain: Promise<unknown> = Promise.resolve();

/** Takes every token of a full bucket so the measurement starts from an empty one. */
async function emptyBucket(rate: number, acquire: Acquire): Promise<void> {
  await Promise.all(Array.from({ length: rate }, acquire));
}

function scenario(rate: number): Scenario<any> {
  const label = rate.toLocaleString('en-US');
  return {
    name: `Rate Limited (${label}/s)`,
    table: 'Async Operations',
    opsPerCall: rate * SECONDS,
    setup: async () => {
      const limiter = new RateLimiter({ rate, intervalMs: 1000 });
      await emptyBucket(rate, () => limiter.acquire());
      return limiter;
    },
    fn: (limiter: RateLimiter) => measureRate(rate, () => limiter.acquire()),
    teardown: (limiter: RateLimiter) => limiter.close(),
    peers: [
      // bottleneck manages ~300 jobs/s at 10,000/s (it is cut off, and emptying its reservoir alone takes
      // ~30 s), so quick runs leave it out there.
      ...(isQuick() && rate > 1000
        ? []
        : [
            {
              name: 'bottleneck (minTime)',
              opsPerCall: rate * SECONDS,
              setup: () => new Bottleneck({ minTime: 1000 / rate }),
              fn: (b: Bottleneck) => measureRate(rate, () => b.schedule(() => Promise.resolve())),
              teardown: (b: Bottleneck) => b.stop({ dropWaitingJobs: true }),
            },
            {
              name: 'bottleneck (reservoir)',
              opsPerCall: rate * SECONDS,
              setup: async () => {
                const b = new Bottleneck({
                  reservoir: rate,
                  reservoirRefreshAmount: rate,
                  reservoirRefreshInterval: 1000,
                });
                await emptyBucket(rate, () => b.schedule(() => Promise.resolve()));
                return b;
              },
              fn: (b: Bottleneck) => measureRate(rate, () => b.schedule(() => Promise.resolve())),
              teardown: (b: Bottleneck) => b.stop({ dropWaitingJobs: true }),
            },
          ]),
      ...(rate <= 1000
        ? [
            {
              name: 'bare setTimeout chain (CPU floor, not a limiter)',
              reference: true,
              opsPerCall: rate * SECONDS,
              fn: () => bareTimerChain(rate),
            },
          ]
        : []),
      {
        name: 'limiter',
        opsPerCall: rate * SECONDS,
        setup: async () => {
          const l = new TokenLimiter({ tokensPerInterval: rate, interval: 'second' });
          await emptyBucket(rate, () => l.removeTokens(1));
          return l;
        },
        fn: (l: TokenLimiter) => measureRate(rate, () => l.removeTokens(1)),
      },
    ],
    // One 2-second call per subject is the measurement; more calls would only repeat it. At 100/s, where
    // the CPU figure has a target, each subject first runs one unmeasured call, as every other scenario
    // does, so none is measured in the first seconds of its code in this process (at 10,000/s the
    // bottleneck peers are cut off after 6 s per call, and their figure has no target).
    minCalls: 1,
    warmupCalls: rate <= 1000 ? 1 : 0,
    timeMs: 1,
  };
}

export default defineSuite({
  name: 'async-rate-limiter',
  scenarios: [scenario(100), scenario(10_000)],
});
