import { cpus } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { bestPeer, speedRatio, summarize } from './stats';
import type {
  CallReport,
  Scenario,
  ScenarioResult,
  Subject,
  SubjectResult,
  Suite,
  SuiteResult,
} from './types';

/** True when `BENCH_QUICK=1` (or `--quick` was passed to the CLI): every scenario runs shortly. */
export function isQuick(): boolean {
  return process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';
}

/** Options for {@link runSuite}. */
export interface RunSuiteOptions {
  /** Shorten every scenario. @default isQuick() */
  quick?: boolean;
  /** Where progress goes. @default process.stderr */
  progress?: (line: string) => void;
  /** Only scenarios whose name contains this text. */
  filter?: string;
}

/**
 * Measures every scenario of a suite: ours first, then each peer, each with its own setup, warm-up and
 * measured calls; computes the ratio to the best peer of this same run and checks the targets.
 */
export async function runSuite(suite: Suite, options: RunSuiteOptions = {}): Promise<SuiteResult> {
  const quick = options.quick ?? isQuick();
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const scenarios = suite.scenarios.filter((s) => !options.filter || s.name.includes(options.filter));
  const results: ScenarioResult[] = [];
  const startedAt = new Date().toISOString();
  for (const [i, scenario] of scenarios.entries()) {
    const label = `[${suite.name} ${i + 1}/${scenarios.length}] ${scenario.name}`;
    progress(`${label} · ${scenario.name}`);
    const ours = await measure(scenario, scenario, quick);
    const peers: SubjectResult[] = [];
    for (const peer of scenario.peers ?? []) {
      progress(`${label} · ${peer.name}`);
      peers.push(await measure(peer, scenario, quick));
    }
    results.push(compare(scenario, ours, peers));
  }
  return {
    suite: suite.name,
    quick,
    startedAt,
    node: process.version,
    cpus: cpus().length,
    scenarios: results,
  };
}

/** Builds the comparison of ours against the peers measured in the same run. */
export function compare(
  scenario: Scenario<any>,
  ours: SubjectResult,
  peers: SubjectResult[],
): ScenarioResult {
  const measured = peers.filter((p) => !p.error && p.opsPerSec > 0);
  const best = bestPeer(measured);
  const ratioTo = (peer: SubjectResult | undefined) =>
    peer && !ours.error && ours.opsPerSec > 0 ? speedRatio(ours.opsPerSec, peer.opsPerSec) : undefined;
  const result: ScenarioResult = {
    name: scenario.name,
    table: scenario.table ?? 'Results',
    ours,
    peers,
    targets: (scenario.targets ?? []).map((t) => {
      const ratio = ratioTo(measured.find((p) => p.name === t.peer));
      return {
        ...t,
        ...(ratio === undefined ? {} : { ratio }),
        met: ratio !== undefined && ratio >= t.minRatio,
      };
    }),
  };
  const ratio = ratioTo(best);
  if (best && ratio !== undefined) {
    result.bestPeer = best.name;
    result.ratio = ratio;
  }
  return result;
}

declare const gc: undefined | (() => void);
const collect = () => (typeof gc === 'function' ? gc() : undefined);

async function measure(
  subject: Subject<any>,
  scenario: Scenario<any>,
  quick: boolean,
): Promise<SubjectResult> {
  const opsPerCall = subject.opsPerCall ?? 1;
  const timeMs = (scenario.timeMs ?? 1000) / (quick ? 8 : 1);
  const minCalls = quick ? Math.min(3, scenario.minCalls ?? 10) : (scenario.minCalls ?? 10);
  const maxCalls = scenario.maxCalls ?? 100_000;
  const warmupCalls = quick ? Math.min(1, scenario.warmupCalls ?? 3) : (scenario.warmupCalls ?? 3);
  let ctx: unknown;
  const perOp: number[] = [];
  const inner: number[] = [];
  const metrics: Record<string, number | string> = {};
  let ops = 0;
  let totalMs = 0;
  let peakHeap = 0;
  let baseline = 0;
  try {
    ctx = await subject.setup?.();
    for (let i = 0; i < warmupCalls; i++) await call(subject, ctx);
    collect();
    baseline = getHeapStatistics().used_heap_size;
    peakHeap = baseline;
    const started = performance.now();
    while (perOp.length < maxCalls && (perOp.length < minCalls || performance.now() - started < timeMs)) {
      const t0 = performance.now();
      const report = await call(subject, ctx);
      const dt = performance.now() - t0;
      const n = report?.ops ?? opsPerCall;
      ops += n;
      totalMs += dt;
      perOp.push(dt / n);
      if (report?.samplesMs) for (const s of report.samplesMs) inner.push(s);
      if (report?.metrics) Object.assign(metrics, report.metrics);
      const heap = getHeapStatistics().used_heap_size;
      if (heap > peakHeap) peakHeap = heap;
    }
  } catch (error) {
    return failed(subject.name, error);
  } finally {
    try {
      await subject.teardown?.(ctx);
    } catch {
      // a failing teardown must not hide the measurement
    }
  }
  const latency = summarize(inner.length > 0 ? inner : perOp);
  return {
    name: subject.name,
    calls: perOp.length,
    ops,
    totalMs,
    opsPerSec: ops / (totalMs / 1000),
    avgMs: latency.mean,
    p95Ms: latency.p95,
    p99Ms: latency.p99,
    memoryDeltaMb: Math.max(0, peakHeap - baseline) / 1024 / 1024,
    metrics,
  };
}

async function call(subject: Subject<any>, ctx: unknown): Promise<CallReport | undefined> {
  const out = subject.fn(ctx);
  const value = out instanceof Promise ? await out : out;
  return value && typeof value === 'object' ? (value as CallReport) : undefined;
}

function failed(name: string, error: unknown): SubjectResult {
  return {
    name,
    calls: 0,
    ops: 0,
    totalMs: 0,
    opsPerSec: 0,
    avgMs: 0,
    p95Ms: 0,
    p99Ms: 0,
    memoryDeltaMb: 0,
    metrics: {},
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  };
}
