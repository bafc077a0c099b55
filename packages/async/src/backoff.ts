import { checkFunction, checkNumber } from './internal/validate';

/**
 * How a delay is randomised. From AWS "Exponential Backoff and Jitter": `full` and `decorrelated` spread
 * contending clients best, `equal` is worst of the three, `none` lets clients retry in lock-step.
 */
export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none';

/**
 * Exponential backoff settings: the one backoff policy of @perf (used by `retry`, `ResourcePool` and
 * `@perf/lock`). Defaults are the seed's `BackoffConfig` in milliseconds.
 */
export interface BackoffOptions {
  /** First delay (before jitter), in ms. @default 10 */
  baseDelayMs?: number;
  /** Cap of any single delay, in ms. @default 5000 */
  maxDelayMs?: number;
  /** Growth factor per attempt, >= 1. @default 2 */
  multiplier?: number;
  /** Randomisation; `true` means `'full'`, `false` means `'none'`. @default 'full' */
  jitter?: Jitter | boolean;
  /** Delays handed out before the policy is exhausted (`Infinity` allowed). @default 20 */
  maxRetries?: number;
  /**
   * Total time budget in ms, measured from the first {@link Backoff.next} call. The last delay is cut to
   * what remains; after that the policy is exhausted. @default Infinity
   */
  deadlineMs?: number;
  /** Source of randomness in [0, 1), replaceable for tests. @default Math.random */
  random?: () => number;
}

/** The seed's name for the same settings (`BackoffConfig(base_delay, max_delay, multiplier, jitter, max_retries)`). */
export type BackoffConfig = BackoffOptions;

/** Backoff options with every default filled in and validated. */
export interface ResolvedBackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  jitter: Jitter;
  maxRetries: number;
  deadlineMs: number;
  random: () => number;
}

const JITTERS: readonly Jitter[] = ['full', 'equal', 'decorrelated', 'none'];

/**
 * Fills defaults and validates backoff options.
 * @throws {TypeError | RangeError} naming the option and the value received.
 */
export function resolveBackoffOptions(
  options: BackoffOptions = {},
  owner = 'backoff',
): ResolvedBackoffOptions {
  // Built as one literal, not `{ ...options }` plus `??=`: V8 gives a spread copy a map that does not
  // cache property additions, which made this function cost ~20 µs per call (measured on Node 20). The
  // inline range tests are the fast path; checkNumber runs only to throw its precise error. `retry()`
  // resolves its options on every call, so this is on its hot path.
  const o = options;
  const baseDelayMs = o.baseDelayMs ?? 10;
  if (!(typeof baseDelayMs === 'number' && baseDelayMs >= 0 && baseDelayMs < Number.POSITIVE_INFINITY)) {
    checkNumber(owner, 'baseDelayMs', baseDelayMs, { min: 0 });
  }
  const maxDelayMs = o.maxDelayMs ?? 5000;
  if (!(typeof maxDelayMs === 'number' && maxDelayMs >= 0))
    checkNumber(owner, 'maxDelayMs', maxDelayMs, { min: 0, allowInfinity: true });
  if (maxDelayMs < baseDelayMs) {
    throw new RangeError(
      `${owner}: maxDelayMs must be >= baseDelayMs (${baseDelayMs}), received ${maxDelayMs}`,
    );
  }
  const multiplier = o.multiplier ?? 2;
  if (!(typeof multiplier === 'number' && multiplier >= 1 && multiplier < Number.POSITIVE_INFINITY)) {
    checkNumber(owner, 'multiplier', multiplier, { min: 1 });
  }
  const maxRetries = o.maxRetries ?? 20;
  if (!(Number.isInteger(maxRetries) && maxRetries >= 0) && maxRetries !== Number.POSITIVE_INFINITY) {
    checkNumber(owner, 'maxRetries', maxRetries, { min: 0, integer: true, allowInfinity: true });
  }
  const deadlineMs = o.deadlineMs ?? Number.POSITIVE_INFINITY;
  if (!(typeof deadlineMs === 'number' && deadlineMs >= 0))
    checkNumber(owner, 'deadlineMs', deadlineMs, { min: 0, allowInfinity: true });
  const random = o.random ?? Math.random;
  if (typeof random !== 'function') checkFunction(owner, 'random', random);
  const jitter =
    o.jitter === undefined || o.jitter === true ? 'full' : o.jitter === false ? 'none' : o.jitter;
  if (jitter !== 'full' && jitter !== 'none' && jitter !== 'equal' && jitter !== 'decorrelated') {
    throw new TypeError(
      `${owner}: jitter must be one of ${JITTERS.join(', ')} or a boolean, received ${String(jitter)}`,
    );
  }
  return { baseDelayMs, maxDelayMs, multiplier, jitter, maxRetries, deadlineMs, random };
}

/**
 * The delay before retry number `attempt` (0 for the first retry), without a deadline. Pure apart from
 * `random`. `previousDelayMs` feeds the decorrelated strategy (defaults to `baseDelayMs`).
 *
 * Bounds: `none` gives exactly `min(maxDelayMs, baseDelayMs × multiplier^attempt)`; `full` a value in
 * `[0, that]`; `equal` in `[that / 2, that]`; `decorrelated` in `[baseDelayMs, min(maxDelayMs, 3 × previous)]`.
 */
export function backoffDelay(
  attempt: number,
  options: ResolvedBackoffOptions,
  previousDelayMs?: number,
): number {
  const { baseDelayMs, maxDelayMs, multiplier, jitter, random } = options;
  if (jitter === 'decorrelated') {
    const prev = previousDelayMs ?? baseDelayMs;
    const upper = Math.min(maxDelayMs, Math.max(baseDelayMs, prev * 3));
    return Math.min(maxDelayMs, baseDelayMs + random() * (upper - baseDelayMs));
  }
  const ceiling = Math.min(maxDelayMs, baseDelayMs * multiplier ** attempt);
  switch (jitter) {
    case 'none':
      return ceiling;
    case 'equal':
      return ceiling / 2 + random() * (ceiling / 2);
    default:
      return random() * ceiling;
  }
}

/**
 * A stateful backoff sequence: each {@link Backoff.next} returns the next delay in ms, or `undefined`
 * when `maxRetries` delays were handed out or the deadline has passed.
 *
 * @example
 * const backoff = new Backoff({ baseDelayMs: 10, maxDelayMs: 1000 });
 * for (;;) {
 *   if (await tryOnce()) break;
 *   const delay = backoff.next();
 *   if (delay === undefined) throw new Error('gave up');
 *   await sleep(delay, { signal });
 * }
 * @throws {TypeError | RangeError} from the constructor for invalid options.
 */
export class Backoff {
  /** The validated options with defaults. */
  readonly options: ResolvedBackoffOptions;
  /** Delays handed out so far. */
  attempt = 0;
  private previous: number | undefined;
  private startedAt: number | undefined;

  constructor(options: BackoffOptions | ResolvedBackoffOptions = {}) {
    this.options = resolveBackoffOptions(options);
  }

  /** The next delay in ms, or `undefined` when the policy is exhausted. */
  next(now: number = performance.now()): number | undefined {
    this.startedAt ??= now;
    if (this.attempt >= this.options.maxRetries) return undefined;
    let delay = backoffDelay(this.attempt, this.options, this.previous);
    if (this.options.deadlineMs !== Number.POSITIVE_INFINITY) {
      const remaining = this.options.deadlineMs - (now - this.startedAt);
      if (remaining <= 0) return undefined;
      if (delay > remaining) delay = remaining;
    }
    this.attempt++;
    this.previous = delay;
    return delay;
  }

  /** Starts the sequence over (attempt 0, deadline clock restarts on the next `next()`). */
  reset(): void {
    this.attempt = 0;
    this.previous = undefined;
    this.startedAt = undefined;
  }
}
