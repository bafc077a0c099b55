import { Histogram } from '@perf/monitor';
import {
  type CircuitBreakerOptions,
  type CircuitBreakerStats,
  type CircuitChangeReason,
  type CircuitState,
  type CircuitStateChange,
  type ExecuteOptions,
  type IsolationHandle,
  resolveBreakerOptions,
} from './circuit-breaker-options';
import { BrokenCircuitError, ClosedError, IsolatedCircuitError } from './errors';
import { FailureWindow } from './internal/failure-window';
import { checkWaitOptions } from './internal/validate';

export type {
  CircuitBreakerOptions,
  CircuitBreakerStats,
  CircuitChangeReason,
  CircuitState,
  CircuitStateChange,
  ExecuteOptions,
  IsolationHandle,
} from './circuit-breaker-options';

/** Closed-path successes placed in the window per clock read (see `settle`). */
const PLACE_EVERY = 8;

let neverAborted: AbortSignal | undefined;
/** One shared signal for calls made without one, created on first use (importing allocates nothing). */
function neverAbortedSignal(): AbortSignal {
  neverAborted ??= new AbortController().signal;
  return neverAborted;
}

/**
 * Stops calling a dependency that is failing, and probes it again later. Failures are counted in a rolling
 * window (a ring of time buckets, so a call allocates nothing for bookkeeping); when the window holds at
 * least `minimumCalls` and their failure share reaches `failureRateThreshold`, the circuit opens and every
 * call fails at once with {@link BrokenCircuitError}. After `openMs`, up to `halfOpenMaxCalls` trial calls
 * go through; `halfOpenSuccessThreshold` successes close it, one failure opens it again.
 *
 * The breaker owns no timer: open → half-open happens at the first call (or `state`/`stats()` read) after
 * `openMs`, so an idle breaker costs nothing and never keeps the process alive.
 *
 * @example
 * const breaker = new CircuitBreaker({ failureRateThreshold: 0.5, minimumCalls: 20, openMs: 5_000 });
 * breaker.onStateChange(({ from, to }) => log.warn(`payments circuit ${from} -> ${to}`));
 * const charge = await breaker.execute((signal) => fetch(paymentsUrl, { signal, method: 'POST', body }));
 * @throws {TypeError | RangeError} from the constructor, naming a bad option.
 */
export class CircuitBreaker implements Disposable {
  private current: CircuitState = 'closed';
  private readonly window: FailureWindow;
  private readonly threshold: number;
  private readonly minimumCalls: number;
  private readonly openMs: number;
  private readonly halfOpenMaxCalls: number;
  private readonly halfOpenSuccessThreshold: number;
  private readonly isFailure: ((error: unknown) => boolean) | undefined;
  private readonly latency = new Histogram();
  private readonly sampleEvery: number;
  private untilSample = 1;
  // Closed-path successes not yet in the window, and the clock reading of the first of them (see settle).
  private pending = 0;
  private pendingAt = 0;
  private listeners: Array<(change: CircuitStateChange) => void> = [];
  // Bumped on every transition: a call that settles after one no longer counts (it saw another state).
  private generation = 0;
  private openedAt = 0;
  private trialsInFlight = 0;
  private trialSuccesses = 0;
  private isolations = 0;
  private disposed = false;
  private calls = 0;
  private failures = 0;
  private rejected = 0;
  private opened = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    const o = resolveBreakerOptions(options);
    this.threshold = o.failureRateThreshold;
    this.minimumCalls = o.minimumCalls;
    this.openMs = o.openMs;
    this.halfOpenMaxCalls = o.halfOpenMaxCalls;
    this.halfOpenSuccessThreshold = o.halfOpenSuccessThreshold;
    this.isFailure = o.isFailure;
    this.sampleEvery = o.latencySampleEvery;
    this.window = new FailureWindow(o.windowMs, o.windowBuckets);
  }

  /** The current state (moves open → half-open if `openMs` has passed). */
  get state(): CircuitState {
    this.refresh(performance.now());
    return this.current;
  }

  /**
   * Calls `fn(signal)` if the circuit lets it through and records the outcome.
   * @throws {BrokenCircuitError} when open (or half-open with every trial slot taken), without calling `fn`.
   * @throws {IsolatedCircuitError} while isolated. {@link ClosedError} after `close()`. Whatever `fn` throws.
   */
  async execute<R>(fn: (signal: AbortSignal) => R | PromiseLike<R>, options?: ExecuteOptions): Promise<R> {
    let signal: AbortSignal;
    if (options?.signal === undefined) {
      signal = neverAbortedSignal();
    } else {
      checkWaitOptions('CircuitBreaker.execute', options);
      signal = options.signal;
      signal.throwIfAborted();
    }
    const trial = this.current !== 'closed' || this.disposed ? this.admit() : false;
    const generation = this.generation;
    // -1: not timed. Clock reads are the priciest part of the closed path, so only sampled calls are timed.
    let start = -1;
    if (--this.untilSample === 0) {
      this.untilSample = this.sampleEvery;
      start = performance.now();
    }
    let result: R;
    try {
      result = await fn(signal);
    } catch (error) {
      this.settle(
        start,
        generation,
        trial,
        !(signal.aborted && error === signal.reason) && this.counts(error),
      );
      throw error;
    }
    this.settle(start, generation, trial, false);
    return result;
  }

  /**
   * Opens the circuit by hand (e.g. during a dependency's maintenance) until every returned handle is
   * released; then it closes with an empty window. Calls meanwhile fail with {@link IsolatedCircuitError}.
   */
  isolate(): IsolationHandle {
    this.isolations++;
    if (this.current !== 'isolated') this.transition('isolated', 'isolated', performance.now());
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      if (--this.isolations === 0 && !this.disposed) this.transition('closed', 'released', performance.now());
    };
    return { release, [Symbol.dispose]: release };
  }

  /**
   * Calls `listener` synchronously on every state change. Returns a function that unsubscribes. A
   * listener that throws does not disturb the breaker; its error is rethrown in a microtask.
   */
  onStateChange(listener: (change: CircuitStateChange) => void): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(
        `CircuitBreaker.onStateChange: listener must be a function, received ${String(listener)}`,
      );
    }
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** A plain snapshot of counters, the window and call latency. */
  stats(): CircuitBreakerStats {
    const now = performance.now();
    if (this.pending !== 0) this.place();
    this.refresh(now);
    this.window.advance(now);
    const { calls: windowCalls, failures: windowFailures } = this.window;
    return {
      state: this.current,
      calls: this.calls,
      successes: this.calls - this.failures,
      failures: this.failures,
      rejected: this.rejected,
      opened: this.opened,
      windowCalls,
      windowFailures,
      failureRate: windowCalls === 0 ? 0 : windowFailures / windowCalls,
      latencyMs: this.latency.snapshot(),
    };
  }

  /** Refuses further calls with {@link ClosedError} and drops listeners. The breaker owns no timers. */
  close(): void {
    this.disposed = true;
    this.listeners = [];
  }

  /** Same as {@link CircuitBreaker.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Admission outside the closed fast path. Returns true for a half-open trial, or throws. */
  private admit(): boolean {
    if (this.disposed) throw new ClosedError('CircuitBreaker: execute after close()');
    const now = performance.now();
    this.refresh(now);
    switch (this.current) {
      case 'closed':
        return false;
      case 'isolated':
        this.rejected++;
        throw new IsolatedCircuitError('CircuitBreaker: circuit is isolated');
      case 'open': {
        this.rejected++;
        const retryAfterMs = this.openedAt + this.openMs - now;
        throw new BrokenCircuitError(
          `CircuitBreaker: circuit is open (retry in ${Math.ceil(retryAfterMs)} ms)`,
          retryAfterMs,
        );
      }
      default:
        if (this.trialsInFlight >= this.halfOpenMaxCalls) {
          this.rejected++;
          throw new BrokenCircuitError(
            `CircuitBreaker: half-open, all ${this.halfOpenMaxCalls} trial slots busy`,
            0,
          );
        }
        this.trialsInFlight++;
        return true;
    }
  }

  private counts(error: unknown): boolean {
    if (!this.isFailure) return true;
    try {
      return this.isFailure(error);
    } catch {
      return true;
    }
  }

  private settle(start: number, generation: number, trial: boolean, failed: boolean): void {
    this.calls++;
    if (failed) this.failures++;
    if (!failed && !trial && generation === this.generation) {
      // A closed-path success: the common case, kept to one clock read per PLACE_EVERY calls. Successes
      // are placed in the window in groups, at the time of the group's first call, so a group's later
      // calls can sit in the window up to the group's span early. Failures, trials, `stats()` and state
      // changes place the group at once, so a decision never misses a success.
      if (this.pending === 0) this.pendingAt = start === -1 ? performance.now() : start;
      if (++this.pending === PLACE_EVERY) this.place();
      if (start !== -1) this.latency.record(performance.now() - start);
      return;
    }
    const now = performance.now();
    if (start !== -1) this.latency.record(now - start);
    if (generation !== this.generation) return;
    if (trial) {
      this.trialsInFlight--;
      if (failed) this.transition('open', 'trial-failure', now);
      else if (++this.trialSuccesses >= this.halfOpenSuccessThreshold)
        this.transition('closed', 'trial-success', now);
      return;
    }
    if (this.pending !== 0) this.place();
    this.window.record(now, failed);
    const w = this.window;
    if (failed && w.calls >= this.minimumCalls && w.failures >= this.threshold * w.calls) {
      this.transition('open', 'failure-rate', now);
    }
  }

  /** Puts the pending closed-path successes into the window. */
  private place(): void {
    this.window.recordSuccesses(this.pendingAt, this.pending);
    this.pending = 0;
  }

  private refresh(now: number): void {
    if (this.current === 'open' && now - this.openedAt >= this.openMs)
      this.transition('half-open', 'open-elapsed', now);
  }

  private transition(to: CircuitState, reason: CircuitChangeReason, now: number): void {
    // Successes of the state being left still count in its window (cleared below when closing).
    if (this.pending !== 0) this.place();
    const from = this.current;
    this.current = to;
    this.generation++;
    if (to === 'open') {
      this.openedAt = now;
      this.opened++;
    } else if (to === 'half-open') {
      this.trialsInFlight = 0;
      this.trialSuccesses = 0;
    } else if (to === 'closed') {
      this.window.reset();
    }
    const change: CircuitStateChange = { from, to, reason };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
