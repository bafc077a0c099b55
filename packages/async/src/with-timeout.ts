import { TimeoutError } from './errors';
import { checkNumber, checkWaitOptions } from './internal/validate';

/** Options of {@link withTimeout}. */
export interface WithTimeoutOptions {
  /** An outer cancellation: aborts the signal given to `fn` too, and rejects with its `reason`. */
  signal?: AbortSignal | undefined;
}

/**
 * Runs `fn` with a time limit. After `ms` the returned promise rejects with a {@link TimeoutError} and the
 * `AbortSignal` handed to `fn` is aborted with that same error, so a `fetch`, a `pg` query with a cancel
 * hook or a nested `retry` can stop its work. If `options.signal` aborts first, the inner signal aborts
 * with its reason and the promise rejects with it. The timer (unref'ed) and the listener on the outer
 * signal are removed as soon as the call settles.
 *
 * `fn` that ignores its signal keeps running after the timeout; only the caller stops waiting for it.
 *
 * @example
 * const rows = await withTimeout((signal) => db.query({ text: sql, signal }), 2_000);
 * @throws {TimeoutError} after `ms`; `options.signal.reason` on abort; whatever `fn` throws;
 * TypeError/RangeError for a bad `fn`, `ms` or signal.
 */
export function withTimeout<T>(
  fn: (signal: AbortSignal) => T | Promise<T>,
  ms: number,
  options: WithTimeoutOptions = {},
): Promise<T> {
  try {
    if (typeof fn !== 'function')
      throw new TypeError(`withTimeout: fn must be a function, received ${String(fn)}`);
    checkNumber('withTimeout', 'ms', ms, { min: 0, allowInfinity: true });
    checkWaitOptions('withTimeout', options);
  } catch (error) {
    return Promise.reject(error);
  }
  const outer = options.signal;
  if (outer?.aborted) return Promise.reject(outer.reason);

  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onOuterAbort = () => fail(outer!.reason);
    const cleanup = () => {
      if (timer !== undefined) clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    };
    // Abort before rejecting so work that listens to the signal stops in the same tick.
    const fail = (reason: unknown) => {
      cleanup();
      controller.abort(reason);
      reject(reason);
    };
    if (ms !== Number.POSITIVE_INFINITY) {
      timer = setTimeout(() => fail(new TimeoutError(`withTimeout: timed out after ${ms} ms`, ms)), ms);
      timer.unref?.();
    }
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    let result: T | Promise<T>;
    try {
      result = fn(controller.signal);
    } catch (error) {
      cleanup();
      reject(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}
