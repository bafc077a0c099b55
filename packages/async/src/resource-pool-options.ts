import type { HistogramSnapshot } from '@perf/monitor';
import { Backoff, type BackoffOptions, resolveBackoffOptions } from './backoff';
import { checkFunction, checkNumber } from './internal/validate';

/** Options of {@link ResourcePool}. */
export interface ResourcePoolOptions<T> {
  /** Makes a new resource (e.g. opens a connection). May throw or reject: see `PoolCreateError`. */
  create: () => T | Promise<T>;
  /** Frees a resource the pool drops. Errors are counted in `stats().destroyErrors`, never thrown. */
  destroy?: (resource: T) => void | Promise<void>;
  /** Checked before each loan of an idle resource; `false` (or a throw) destroys it and tries another. */
  validate?: (resource: T) => boolean | Promise<boolean>;
  /** Resources kept even when idle; `start()` creates them. @default 0 */
  min?: number;
  /** Most resources alive at once (idle + lent + being created). @default 10 */
  max?: number;
  /** Default `timeoutMs` of `acquire()`; rejects with `TimeoutError`. @default 30_000 */
  acquireTimeoutMs?: number;
  /** Idle resources above `min` are destroyed after this long unused (`Infinity`: never). @default 30_000 */
  idleTimeoutMs?: number;
  /** Loans after which a resource is destroyed instead of reused. @default Infinity */
  maxUses?: number;
  /**
   * Backoff between failed `create` calls (`maxRetries`/`deadlineMs` are ignored: the pool keeps probing
   * at `maxDelayMs`). @default { baseDelayMs: 50, maxDelayMs: 5000, jitter: 'full' }
   */
  createRetry?: BackoffOptions;
}

/** A plain, JSON-serialisable snapshot of a {@link ResourcePool}. */
export interface ResourcePoolStats {
  /** Resources alive: available + borrowed + being created or validated. */
  size: number;
  /** Idle resources ready to lend. */
  available: number;
  /** Resources lent out. */
  borrowed: number;
  /** Acquirers waiting. */
  pending: number;
  /** `create` calls in flight. */
  creating: number;
  /** `validate` calls in flight. */
  validating: number;
  created: number;
  destroyed: number;
  createErrors: number;
  destroyErrors: number;
  validationFailures: number;
  /** Loans made. */
  acquired: number;
  timedOut: number;
  aborted: number;
  /** Acquirers rejected with `PoolCreateError`. */
  createRejected: number;
  /** Time from `acquire()` to the loan, in ms (0 when a resource was free). */
  acquireWaitMs: HistogramSnapshot;
}

/** Pool options with defaults filled in and validated. @internal */
export interface ResolvedPoolOptions<T> {
  create: () => T | Promise<T>;
  destroy: (resource: T) => void | Promise<void>;
  validate: ((resource: T) => boolean | Promise<boolean>) | undefined;
  min: number;
  max: number;
  acquireTimeoutMs: number;
  idleTimeoutMs: number;
  maxUses: number;
  createBackoff: Backoff;
}

const noop = () => {};

/**
 * Fills defaults and validates pool options, before the pool allocates anything.
 * @throws {TypeError | RangeError} naming the option and the value received.
 * @internal
 */
export function resolvePoolOptions<T>(options: ResourcePoolOptions<T>): ResolvedPoolOptions<T> {
  const owner = 'ResourcePool';
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${owner}: options must be an object, received ${String(options)}`);
  }
  const { create, destroy, validate } = options;
  if (typeof create !== 'function') {
    throw new TypeError(`${owner}: create must be a function, received ${String(create)}`);
  }
  checkFunction(owner, 'destroy', destroy);
  checkFunction(owner, 'validate', validate);
  const min = checkNumber(owner, 'min', options.min ?? 0, { min: 0, integer: true });
  const max = checkNumber(owner, 'max', options.max ?? 10, { min: 1, integer: true });
  if (min > max) throw new RangeError(`${owner}: min must be <= max (${max}), received ${min}`);
  const inf = Number.POSITIVE_INFINITY;
  const acquireTimeoutMs = checkNumber(owner, 'acquireTimeoutMs', options.acquireTimeoutMs ?? 30_000, {
    min: 0,
    allowInfinity: true,
  });
  const idleTimeoutMs = checkNumber(owner, 'idleTimeoutMs', options.idleTimeoutMs ?? 30_000, {
    min: 0,
    allowInfinity: true,
  });
  const maxUses = checkNumber(owner, 'maxUses', options.maxUses ?? inf, {
    min: 1,
    integer: true,
    allowInfinity: true,
  });
  const retry = {
    baseDelayMs: 50,
    maxDelayMs: 5000,
    ...options.createRetry,
    maxRetries: inf,
    deadlineMs: inf,
  };
  const createBackoff = new Backoff(resolveBackoffOptions(retry, `${owner}: createRetry`));
  return {
    create,
    destroy: destroy ?? noop,
    validate,
    min,
    max,
    acquireTimeoutMs,
    idleTimeoutMs,
    maxUses,
    createBackoff,
  };
}
