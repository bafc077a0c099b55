/** What a scenario function may return to report more than its duration. */
export interface CallReport {
  /**
   * Latency samples in ms measured inside the call (e.g. each waiter's wait). When given, Avg and P95 of
   * the row come from these instead of the per-op duration of each call.
   */
  samplesMs?: number[];
  /** Extra figures shown in the row's notes and kept in the JSON (e.g. `{ achievedRate: 99.8 }`). */
  metrics?: Record<string, number | string>;
  /** Operations this call actually did, when it differs from `opsPerCall`. */
  ops?: number;
  /**
   * The time these operations took, in ms, when the call measured it itself instead of being the
   * measured span: e.g. servers that were all loaded in the same window, each subject reporting its own
   * request count over that shared window. @default the call's own duration
   */
  elapsedMs?: number;
}

/** One measured subject: our implementation or a peer doing the same work. */
export interface Subject<Ctx = unknown> {
  /** Shown in the table, e.g. `@perf/async Semaphore` or `p-limit`. */
  name: string;
  /** Runs once before warm-up; its result is passed to every call. */
  setup?: () => Ctx | Promise<Ctx>;
  /** One measured call. Doing `opsPerCall` operations; may return a {@link CallReport}. */
  fn: (ctx: Ctx) => unknown | Promise<unknown>;
  /** Runs once after the last call (close servers, pools). */
  teardown?: (ctx: Ctx) => unknown | Promise<unknown>;
  /** Operations one call of `fn` performs. @default 1 */
  opsPerCall?: number;
  /**
   * A peer that is a reference row rather than a library users pick: a floor (a bare timer chain, a
   * server without metrics) or a ceiling (the least any implementation must do). Shown, usable in
   * targets, never the "best peer" of the row. @default false
   */
  reference?: boolean;
}

/** A target a scenario must meet against one peer, checked in the report (e.g. ≥ 1.5× async-sema). */
export interface RatioTarget {
  /** Peer subject name. */
  peer: string;
  /** Minimum ours/peer throughput ratio. */
  minRatio: number;
}

/** A benchmark scenario: our subject and the peers measured beside it in the same run. */
export interface Scenario<Ctx = unknown> extends Subject<Ctx> {
  /** Seed-style table the row belongs to, e.g. `Async Operations`. @default the suite name */
  table?: string;
  /** Peers doing the same work. */
  peers?: Subject<any>[];
  /** Ratio targets checked against peers of this run. */
  targets?: RatioTarget[];
  /**
   * Minimum measuring time per subject in ms (quick mode divides it by 8).
   * @default 1000
   */
  timeMs?: number;
  /** Minimum measured calls per subject (quick mode: 3). @default 10 */
  minCalls?: number;
  /** Maximum measured calls per subject. @default 100_000 */
  maxCalls?: number;
  /** Warm-up calls before measuring (quick mode: 1). @default 3 */
  warmupCalls?: number;
  /**
   * Measure in this many alternating rounds (ours, each peer, ours, ...) with every subject set up at
   * once, so load changes on a shared machine hit all subjects alike. Quick mode uses 1.
   * @default 1 (each subject set up, measured and torn down in turn)
   */
  rounds?: number;
}

/** A file's worth of scenarios: one JSON file in `bench-results/` per suite. */
export interface Suite {
  /** Package or area, e.g. `async`. Names the JSON file. */
  name: string;
  scenarios: Scenario<any>[];
}

/** The measurement of one subject. */
export interface SubjectResult {
  name: string;
  calls: number;
  ops: number;
  totalMs: number;
  opsPerSec: number;
  avgMs: number;
  p95Ms: number;
  p99Ms: number;
  /** Peak heap growth over the pre-run baseline during the measurement, in MB. */
  memoryDeltaMb: number;
  metrics: Record<string, number | string>;
  error?: string;
  /** Set on a peer declared as a {@link Subject.reference} row. */
  reference?: boolean;
}

/** The measurement of one scenario: ours, its peers, and the comparison. */
export interface ScenarioResult {
  name: string;
  table: string;
  ours: SubjectResult;
  peers: SubjectResult[];
  bestPeer?: string;
  /** ours / best peer throughput. */
  ratio?: number;
  targets: Array<RatioTarget & { ratio?: number; met: boolean }>;
}

/** What a suite run writes to `bench-results/<suite>.json`. */
export interface SuiteResult {
  suite: string;
  quick: boolean;
  startedAt: string;
  node: string;
  cpus: number;
  scenarios: ScenarioResult[];
}
