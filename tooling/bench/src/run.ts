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
    const [ours, peers] = await measureScenario(scenario, quick, (name) => progress(`${label} · ${name}`));
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
  const best = bestPeer(measured.filter((p) => !p.reference));
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

/**
 * One subject's measurement, in phases so that subjects can be measured one after another or in
 * interleaved rounds: `start()` (setup + warm-up), `measure(ms, minCalls)` any number of times,
 * `result()`, `stop()` (teardown).
 */
class Measurement {
  private ctx: unknown;
  private readonly perOp: number[] = [];
  private readonly inner: number[] = [];
  private readonly metrics: Record<string, number | string> = {};
  private ops = 0;
  private totalMs = 0;
  private peakHeap = 0;
  private baseline = 0;
  private error: unknown;
  private failedOnce = false;

  constructor(
    readonly subject: Subject<any>,
    private readonly maxCalls: number,
  ) {}

  async start(warmupCalls: number): Promise<void> {
    try {
      this.ctx = await this.subject.setup?.();
      for (let i = 0; i < warmupCalls; i++) await call(this.subject, this.ctx);
      collect();
      this.baseline = getHeapStatistics().used_heap_size;
      this.peakHeap = this.baseline;
    } catch (error) {
      this.fail(error);
    }
  }

  async measure(timeMs: number, minCalls: number): Promise<void> {
    if (this.failedOnce) return;
    const opsPerCall = this.subject.opsPerCall ?? 1;
    const started = performance.now();
    let calls = 0;
    try {
      while (
        this.perOp.length < this.maxCalls &&
        (calls < minCalls || performance.now() - started < timeMs)
      ) {
        const t0 = performance.now();
        const report = await call(this.subject, this.ctx);
        const dt = report?.elapsedMs ?? performance.now() - t0;
        calls++;
        const n = report?.ops ?? opsPerCall;
        this.ops += n;
        this.totalMs += dt;
        this.perOp.push(dt / n);
        if (report?.samplesMs) for (const s of report.samplesMs) this.inner.push(s);
        if (report?.metrics) Object.assign(this.metrics, report.metrics);
        const heap = getHeapStatistics().used_heap_size;
        if (heap > this.peakHeap) this.peakHeap = heap;
      }
    } catch (error) {
      this.fail(error);
    }
  }

  async stop(): Promise<void> {
    try {
      await this.subject.teardown?.(this.ctx);
    } catch (error) {
      // A failing teardown must not hide the measurement, but it must not go unnoticed either.
      process.stderr.write(`teardown of ${this.subject.name} failed: ${String(error)}\n`);
    }
  }

  result(): SubjectResult {
    if (this.failedOnce || this.perOp.length === 0)
      return failed(this.subject, this.error ?? 'no calls measured');
    const latency = summarize(this.inner.length > 0 ? this.inner : this.perOp);
    return {
      name: this.subject.name,
      ...(this.subject.reference ? { reference: true } : {}),
      calls: this.perOp.length,
      ops: this.ops,
      totalMs: this.totalMs,
      opsPerSec: this.ops / (this.totalMs / 1000),
      avgMs: latency.mean,
      p95Ms: latency.p95,
      p99Ms: latency.p99,
      memoryDeltaMb: Math.max(0, this.peakHeap - this.baseline) / 1024 / 1024,
      metrics: this.metrics,
    };
  }

  private fail(error: unknown): void {
    this.failedOnce = true;
    this.error = error;
  }
}

/**
 * Measures ours and every peer of a scenario. With `rounds` > 1 all subjects are set up first and then
 * measured in alternating rounds (ours, peer A, peer B, ours, ...), so that a load change on a shared
 * machine hits every subject alike; otherwise each subject is set up, measured and torn down in turn.
 */
async function measureScenario(
  scenario: Scenario<any>,
  quick: boolean,
  onSubject: (name: string) => void,
): Promise<[SubjectResult, SubjectResult[]]> {
  const timeMs = (scenario.timeMs ?? 1000) / (quick ? 8 : 1);
  const minCalls = quick ? Math.min(3, scenario.minCalls ?? 10) : (scenario.minCalls ?? 10);
  const warmupCalls = quick ? Math.min(1, scenario.warmupCalls ?? 3) : (scenario.warmupCalls ?? 3);
  const rounds = quick ? 1 : Math.max(1, Math.floor(scenario.rounds ?? 1));
  const subjects = [scenario, ...(scenario.peers ?? [])];
  const runs = subjects.map((s) => new Measurement(s, scenario.maxCalls ?? 100_000));
  if (rounds === 1) {
    for (const run of runs) {
      onSubject(run.subject.name);
      await run.start(warmupCalls);
      await run.measure(timeMs, minCalls);
      await run.stop();
    }
  } else {
    for (const run of runs) await run.start(warmupCalls);
    for (let r = 0; r < rounds; r++) {
      for (const run of runs) {
        onSubject(`${run.subject.name} (round ${r + 1}/${rounds})`);
        await run.measure(timeMs / rounds, Math.ceil(minCalls / rounds));
      }
    }
    for (const run of runs) await run.stop();
  }
  const [ours, ...peers] = runs.map((r) => r.result());
  return [ours!, peers];
}

async function call(subject: Subject<any>, ctx: unknown): Promise<CallReport | undefined> {
  const out = subject.fn(ctx);
  const value = out instanceof Promise ? await out : out;
  return value && typeof value === 'object' ? (value as CallReport) : undefined;
}

function failed(subject: Subject<any>, error: unknown): SubjectResult {
  return {
    name: subject.name,
    ...(subject.reference ? { reference: true } : {}),
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
