import { Histogram, type HistogramSnapshot } from '@perf/monitor';
import { ClosedError, QueueFullError, TimeoutError } from './errors';
import { checkNumber, checkWaitOptions } from './internal/validate';
import { type CancelReason, WaiterQueue, type WaitOptions } from './internal/waiters';

/**
 * Options for {@link RateLimiter}. The seed's `AsyncRateLimiter(rate_limit=100, period=1.0)` is
 * `new RateLimiter({ rate: 100, intervalMs: 1000 })`.
 */
export interface RateLimiterOptions {
  /** Tokens added per `intervalMs` (an integer >= 1). */
  rate: number;
  /** The period `rate` refers to, in ms. @default 1000 */
  intervalMs?: number;
  /** Bucket capacity: the most tokens available at once after idling (an integer >= 1). @default rate */
  burst?: number;
  /** Most callers allowed to wait; one more is rejected with a `QueueFullError`. @default Infinity */
  maxQueue?: number;
  /**
   * Unref the refill timer. Off by default, deliberately: the timer exists only while callers wait for
   * tokens (never while idle) and fires within `intervalMs`, so like `sleep()` it keeps the process alive
   * just until those waits end. Unref'd, a script's `await limiter.acquire()` lets Node exit mid-wait
   * (exit code 13, "unsettled top-level await"). @default false
   */
  unref?: boolean;
}

/** A point-in-time view of a {@link RateLimiter}, plain and JSON-serialisable. */
export interface RateLimiterStats {
  rate: number;
  intervalMs: number;
  burst: number;
  /** Tokens in the bucket now (fractional: refill is continuous). */
  tokens: number;
  /** Callers queued. */
  waiting: number;
  /** Acquisitions granted. */
  acquired: number;
  /** Tokens handed out (differs from `acquired` when callers ask for more than one). */
  tokensGranted: number;
  /** Callers refused because the queue was at `maxQueue`. */
  rejected: number;
  /** Waits that ended by their `timeoutMs`. */
  timedOut: number;
  /** Waits that ended by their `signal`. */
  aborted: number;
  /** True after {@link RateLimiter.close}. */
  closed: boolean;
  /** Time from `acquire()` to the grant in ms; immediate grants count as 0 (as in the Semaphore). */
  waitMs: HistogramSnapshot;
}

// Float slack so that a timer fired for exactly the missing tokens is not rescheduled for a rounding
// error of 1e-15 tokens; at most 1e-9 token per grant is ever over-granted.
const EPSILON = 1e-9;
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A token-bucket rate limiter (the seed's `AsyncRateLimiter`): `rate` tokens per `intervalMs`, up to
 * `burst` at once. Waiters are served strictly FIFO, so a caller asking for many tokens is not starved by
 * a stream of small requests. Tokens are computed from elapsed time with the fractional part carried, so
 * the long-run rate is exact however late timers fire. At most one timer exists, only while someone
 * waits, set for the moment the head waiter's tokens will be there.
 *
 * @example
 * const limiter = new RateLimiter({ rate: 100, intervalMs: 1000 }); // 100/s, bursts of 100
 * await limiter.acquire();                          // one token, FIFO
 * const get = limiter.limit((url: string) => fetch(url));
 * await get('https://api.example.com/items');
 *
 * @throws {TypeError | RangeError} from the constructor for a non-integer or non-positive `rate`/`burst`,
 * a non-positive `intervalMs` or a bad `maxQueue`.
 */
export class RateLimiter implements Disposable {
  readonly rate: number;
  readonly intervalMs: number;
  readonly burst: number;
  private readonly perMs: number;
  private readonly catchUpMs: number;
  private readonly maxQueue: number;
  private readonly unref: boolean;
  private tokens: number;
  private refilledAt = performance.now();
  private readonly queue = new WaiterQueue<void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDueAt = 0;
  private readonly waitMs = new Histogram();
  private acquired = 0;
  private tokensGranted = 0;
  private rejected = 0;
  private timedOut = 0;
  private aborted = 0;
  private closed = false;

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.drain();
  };
  private readonly onCancel = (reason: CancelReason): void => {
    if (reason === 'aborted') this.aborted++;
    else this.timedOut++;
    // The cancelled waiter may have been a heavy head: the next one may fit now or need another timer.
    this.drain();
  };

  constructor(options: RateLimiterOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`RateLimiter: options must be an object, received ${String(options)}`);
    }
    this.rate = checkNumber('RateLimiter', 'rate', options.rate, { min: 1, integer: true });
    this.intervalMs = checkNumber('RateLimiter', 'intervalMs', options.intervalMs ?? 1000, { min: 0 });
    if (this.intervalMs === 0) throw new RangeError('RateLimiter: intervalMs must be > 0, received 0');
    this.burst = checkNumber('RateLimiter', 'burst', options.burst ?? this.rate, { min: 1, integer: true });
    this.maxQueue = checkNumber('RateLimiter', 'maxQueue', options.maxQueue ?? Number.POSITIVE_INFINITY, {
      min: 0,
      integer: true,
      allowInfinity: true,
    });
    this.unref = options.unref ?? false;
    this.perMs = this.rate / this.intervalMs;
    this.catchUpMs = Math.max(this.intervalMs, this.burst / this.perMs);
    this.tokens = this.burst;
  }

  /**
   * Waits until `tokens` tokens are available (FIFO) and takes them.
   * Rejects with a RangeError when `tokens` exceeds `burst` (it could never be served), `signal.reason`
   * on abort, `TimeoutError` after `timeoutMs`, `QueueFullError` at `maxQueue`, `ClosedError` after close.
   */
  acquire(tokens = 1, options: WaitOptions = {}): Promise<void> {
    try {
      this.checkTokens(tokens);
      checkWaitOptions('RateLimiter', options);
      if (this.closed) throw new ClosedError('RateLimiter: closed');
    } catch (error) {
      return Promise.reject(error);
    }
    if (options.signal?.aborted) {
      this.aborted++;
      return Promise.reject(options.signal.reason);
    }
    if (this.queue.size === 0 && this.take(tokens, performance.now())) {
      this.waitMs.record(0);
      return RESOLVED;
    }
    if (this.queue.size >= this.maxQueue) {
      this.rejected++;
      return Promise.reject(
        new QueueFullError(`RateLimiter: ${this.maxQueue} callers already wait`, this.maxQueue),
      );
    }
    const { timeoutMs } = options;
    const wait = this.queue.enqueue(
      tokens,
      options,
      () => new TimeoutError(`RateLimiter: no ${tokens} token(s) within ${timeoutMs} ms`, timeoutMs ?? 0),
      this.onCancel,
    );
    if (this.queue.size === 1) this.schedule(performance.now());
    return wait;
  }

  /**
   * Takes `tokens` only if they are available now and nobody waits (it never jumps the queue).
   * @returns true when taken.
   * @throws {RangeError | TypeError} for bad `tokens` (also above `burst`); {@link ClosedError} after close.
   */
  tryAcquire(tokens = 1): boolean {
    this.checkTokens(tokens);
    if (this.closed) throw new ClosedError('RateLimiter: closed');
    if (this.queue.size !== 0 || !this.take(tokens, performance.now())) return false;
    this.waitMs.record(0);
    return true;
  }

  /**
   * Waits for `tokens` (default 1) and then runs `fn` in the caller's AsyncLocalStorage context,
   * resolving with its result. `fn` never runs when the wait is rejected.
   */
  async run<R>(
    fn: () => R | PromiseLike<R>,
    options: WaitOptions & { tokens?: number } = {},
  ): Promise<Awaited<R>> {
    if (typeof fn !== 'function')
      throw new TypeError(`RateLimiter.run: fn must be a function, received ${String(fn)}`);
    await this.acquire(options.tokens ?? 1, options);
    return await fn();
  }

  /**
   * Wraps `fn` so every call first takes one token: the p-throttle / bottleneck `wrap` shape.
   * @example const send = limiter.limit((msg: string) => smtp.send(msg));
   */
  limit<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Promise<Awaited<R>> {
    if (typeof fn !== 'function')
      throw new TypeError(`RateLimiter.limit: fn must be a function, received ${String(fn)}`);
    return (...args: A) => this.run(() => fn(...args));
  }

  /** A JSON-serialisable snapshot (reading it changes nothing). */
  stats(): RateLimiterStats {
    const elapsed = performance.now() - this.refilledAt;
    return {
      rate: this.rate,
      intervalMs: this.intervalMs,
      burst: this.burst,
      tokens: Math.min(this.burst, this.tokens + elapsed * this.perMs),
      waiting: this.queue.size,
      acquired: this.acquired,
      tokensGranted: this.tokensGranted,
      rejected: this.rejected,
      timedOut: this.timedOut,
      aborted: this.aborted,
      closed: this.closed,
      waitMs: this.waitMs.snapshot(),
    };
  }

  /** Rejects every waiter with `ClosedError`, clears the timer and refuses new acquisitions. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    this.queue.rejectAll(new ClosedError('RateLimiter: closed while waiting'));
  }

  /** Same as {@link RateLimiter.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Refills from elapsed time (capped at `burst`: only used with nobody waiting), then takes `tokens` if there are enough. */
  private take(tokens: number, now: number): boolean {
    this.refill(now);
    if (this.tokens + EPSILON < tokens) return false;
    this.tokens -= tokens;
    this.acquired++;
    this.tokensGranted += tokens;
    return true;
  }

  private refill(now: number): void {
    if (this.tokens < this.burst) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) * this.perMs);
    }
    this.refilledAt = now;
  }

  /**
   * Grants head waiters whose tokens are there, then arms the one timer for the next head.
   *
   * Each grant is booked at the moment its tokens became available (`at`), not when the timer fired:
   * a timer that fires 0.7 ms late must not drop 0.7 ms of refill against the `burst` cap, or the
   * long-run rate sags (by 2% at 30/s with burst 1). While someone waits the bucket is below the cap
   * anyway, so this is the exact continuous-time token bucket. A stall longer than `catchUpMs` forfeits
   * the backlog, so a blocked event loop cannot release more than one interval's worth at once.
   */
  private drain(): void {
    const now = performance.now();
    if (now - this.refilledAt > this.catchUpMs) this.refill(now);
    let head = this.queue.peek();
    while (head !== undefined) {
      const deficit = head.weight - this.tokens;
      const at = deficit <= EPSILON ? this.refilledAt : this.refilledAt + deficit / this.perMs;
      if (at - now > EPSILON) break;
      this.tokens = deficit <= 0 ? -deficit : 0;
      this.refilledAt = at;
      this.acquired++;
      this.tokensGranted += head.weight;
      this.waitMs.record(now - head.enqueuedAt);
      this.queue.grant(undefined);
      head = this.queue.peek();
    }
    this.refill(now);
    this.schedule(now);
  }

  private schedule(now: number): void {
    const head = this.queue.peek();
    if (head === undefined) {
      this.clearTimer();
      return;
    }
    const missing = Math.max(0, head.weight - this.tokens);
    const dueAt = now + Math.ceil(missing / this.perMs);
    // An earlier timer is kept: it fires, finds too few tokens and re-arms; a later one must move.
    if (this.timer !== undefined && this.timerDueAt <= dueAt) return;
    this.clearTimer();
    this.timerDueAt = dueAt;
    this.timer = setTimeout(this.onTimer, dueAt - now);
    if (this.unref) this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private checkTokens(tokens: number): void {
    checkNumber('RateLimiter', 'tokens', tokens, { min: 1, integer: true });
    if (tokens > this.burst) {
      throw new RangeError(`RateLimiter: tokens must be <= burst (${this.burst}), received ${tokens}`);
    }
  }
}
