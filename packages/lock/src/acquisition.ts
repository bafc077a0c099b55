import type { AttemptContext } from './base';
import { LockClosedError } from './errors';
import type { Linked } from './linked-set';
import type { AcquireOptions, LockHandle } from './types';

/**
 * The per-acquisition state behind `BaseLockProvider`'s loop: abort bookkeeping without allocating an
 * `AbortSignal` unless someone asks for one (the uncontended path allocates none), the attempt
 * context handed to providers, and the validation of `{ timeoutMs, signal }`.
 */

/**
 * One acquisition in flight. Its `AbortSignal` is made only when something asks for it (a subclass
 * that waits, a caller's signal is not enough): the uncontended path allocates no signal at all.
 */
export class Acquisition implements Linked<Acquisition> {
  /** @internal */ linkPrev: Acquisition | undefined = undefined;
  /** @internal */ linkNext: Acquisition | undefined = undefined;
  /** @internal */ linkOwner: object | undefined = undefined;
  attempts = 0;
  aborted = false;
  reason: unknown;
  done: Promise<LockHandle | null> | undefined;
  /** The pending sleep's abort hook. */
  onAbort: (() => void) | undefined;
  /** Abort hooks, made on first use: most acquisitions register none that outlive their attempt. */
  private hooks: Set<() => void> | undefined;
  private controller: AbortController | undefined;

  get hasSignal(): boolean {
    return this.controller !== undefined;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.onAbort?.();
    if (this.hooks) for (const hook of this.hooks) hook();
  }

  addHook(hook: () => void): () => void {
    if (this.aborted) {
      hook();
      return noop;
    }
    this.hooks ??= new Set();
    const hooks = this.hooks;
    hooks.add(hook);
    return () => hooks.delete(hook);
  }
}

/** The {@link AttemptContext} of one attempt: a view of its {@link Acquisition}. */
export class Attempt implements AttemptContext {
  constructor(
    private readonly op: Acquisition,
    readonly attempt: number,
    readonly remainingMs: number,
  ) {}

  get signal(): AbortSignal {
    return this.op.signal;
  }

  get aborted(): boolean {
    return this.op.aborted;
  }

  onAbort(hook: () => void): () => void {
    return this.op.addHook(hook);
  }

  deadlineReached(): boolean {
    return this.op.aborted && this.op.reason === TIMED_OUT;
  }
}

function noop(): void {}

/** Abort reasons used inside the loop; never seen by callers. */
export const TIMED_OUT = new Error('lock wait timed out');
export const EXHAUSTED = new Error('backoff policy exhausted');

/** True when an acquisition was aborted by `close()`. */
export function isLockClosedReason(reason: unknown): boolean {
  return reason instanceof LockClosedError;
}

/**
 * True when `ctx.signal` of an attempt aborted because the acquisition's `timeoutMs` elapsed (rather than
 * the caller's signal or `close()`): an attempt that enforces the deadline itself (PostgreSQL
 * `lock_timeout`) need not cancel anything.
 */
export function isDeadlineAbort(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason === TIMED_OUT;
}

/**
 * Validates `{ timeoutMs, signal }` of one acquisition.
 * @throws {TypeError | RangeError} naming the option and the value received.
 */
export function checkAcquireOptions(options: AcquireOptions): {
  timeoutMs: number;
  signal: AbortSignal | undefined;
} {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`acquire: options must be an object, received ${String(options)}`);
  }
  const { timeoutMs = Number.POSITIVE_INFINITY, signal } = options;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) {
    throw new TypeError(`acquire: timeoutMs must be a number, received ${String(timeoutMs)}`);
  }
  if (timeoutMs < 0) throw new RangeError(`acquire: timeoutMs must be >= 0, received ${timeoutMs}`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`acquire: signal must be an AbortSignal, received ${String(signal)}`);
  }
  return { timeoutMs, signal };
}
