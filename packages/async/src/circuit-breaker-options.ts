import type { HistogramSnapshot } from '@perf/monitor';
import { checkFunction, checkNumber } from './internal/validate';

/**
 * `closed`: calls flow and are counted. `open`: calls are refused until `openMs` passed. `half-open`: a
 * few trial calls decide between closed and open. `isolated`: opened by hand with `isolate()`.
 */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Failure share of the window, in (0, 1], at or above which the circuit opens. @default 0.5 */
  failureRateThreshold?: number;
  /** Calls the window must hold before the rate can open the circuit. @default 10 */
  minimumCalls?: number;
  /** Length of the rolling window, in ms. @default 10_000 */
  windowMs?: number;
  /** Buckets the window is split into; it slides in steps of `windowMs / windowBuckets`. @default 10 */
  windowBuckets?: number;
  /** How long the circuit stays open before trial calls are let through, in ms. @default 10_000 */
  openMs?: number;
  /** Trial calls allowed in flight at once while half-open; more are refused. @default 1 */
  halfOpenMaxCalls?: number;
  /** Successful trials that close the circuit again; any failed trial reopens it. @default 1 */
  halfOpenSuccessThreshold?: number;
  /**
   * Which errors count as failures of the dependency (others pass through and count as successes, e.g.
   * a 404). If it throws, the error counts as a failure. @default every error
   */
  isFailure?: (error: unknown) => boolean;
  /**
   * Time one call in this many for `stats().latencyMs` (1: every call). A timed call costs one more clock
   * read, which on some VMs costs more than the rest of the closed path. @default 16
   */
  latencySampleEvery?: number;
}

/** Options of {@link CircuitBreaker.execute}. */
export interface ExecuteOptions {
  /** Passed to `fn`. A rejection with this signal's reason after it aborted is not counted as a failure. */
  signal?: AbortSignal | undefined;
}

/** Why the state changed. */
export type CircuitChangeReason =
  | 'failure-rate'
  | 'open-elapsed'
  | 'trial-success'
  | 'trial-failure'
  | 'isolated'
  | 'released';

/** What a state listener receives. */
export interface CircuitStateChange {
  from: CircuitState;
  to: CircuitState;
  reason: CircuitChangeReason;
}

/** A plain, JSON-serialisable snapshot of a {@link CircuitBreaker}. */
export interface CircuitBreakerStats {
  state: CircuitState;
  /** Calls executed since creation (refused ones excluded). */
  calls: number;
  successes: number;
  failures: number;
  /** Calls refused with `BrokenCircuitError`/`IsolatedCircuitError`. */
  rejected: number;
  /** Times the circuit opened (by failure rate or a failed trial). */
  opened: number;
  windowCalls: number;
  windowFailures: number;
  /** `windowFailures / windowCalls`, 0 for an empty window. */
  failureRate: number;
  /** Duration of executed calls (one in `latencySampleEvery`), in ms. */
  latencyMs: HistogramSnapshot;
}

/** Returned by {@link CircuitBreaker.isolate}: disposing it (once per handle) lifts that isolation. */
export interface IsolationHandle extends Disposable {
  /** Lifts this isolation; the circuit closes when no isolation is left. Idempotent. */
  release(): void;
}

/** Breaker options with defaults filled in and validated. @internal */
export type ResolvedBreakerOptions = Required<Omit<CircuitBreakerOptions, 'isFailure'>> & {
  isFailure: ((error: unknown) => boolean) | undefined;
};

/**
 * Fills defaults and validates breaker options.
 * @throws {TypeError | RangeError} naming the option and the value received.
 * @internal
 */
export function resolveBreakerOptions(options: CircuitBreakerOptions): ResolvedBreakerOptions {
  const owner = 'CircuitBreaker';
  const o = options;
  const failureRateThreshold = checkNumber(owner, 'failureRateThreshold', o.failureRateThreshold ?? 0.5, {
    min: 0,
  });
  if (failureRateThreshold === 0 || failureRateThreshold > 1) {
    throw new RangeError(
      `${owner}: failureRateThreshold must be in (0, 1], received ${failureRateThreshold}`,
    );
  }
  const windowBuckets = checkNumber(owner, 'windowBuckets', o.windowBuckets ?? 10, { min: 1, integer: true });
  if (windowBuckets > 10_000) {
    throw new RangeError(`${owner}: windowBuckets must be <= 10000, received ${windowBuckets}`);
  }
  checkFunction(owner, 'isFailure', o.isFailure);
  const count = { min: 1, integer: true };
  return {
    failureRateThreshold,
    minimumCalls: checkNumber(owner, 'minimumCalls', o.minimumCalls ?? 10, count),
    windowMs: checkNumber(owner, 'windowMs', o.windowMs ?? 10_000, { min: 1 }),
    windowBuckets,
    openMs: checkNumber(owner, 'openMs', o.openMs ?? 10_000, { min: 0 }),
    halfOpenMaxCalls: checkNumber(owner, 'halfOpenMaxCalls', o.halfOpenMaxCalls ?? 1, count),
    halfOpenSuccessThreshold: checkNumber(
      owner,
      'halfOpenSuccessThreshold',
      o.halfOpenSuccessThreshold ?? 1,
      count,
    ),
    latencySampleEvery: checkNumber(owner, 'latencySampleEvery', o.latencySampleEvery ?? 16, count),
    isFailure: o.isFailure,
  };
}
