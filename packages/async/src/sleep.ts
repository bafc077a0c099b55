import type { WaitOptions } from './internal/waiters';

/**
 * Resolves after `ms` milliseconds; rejects with `signal.reason` as soon as `signal` aborts (clearing the
 * timer). The timer is unref'ed only when `unref` is true, so a plain `await sleep(100)` keeps the process
 * alive like `setTimeout` does.
 *
 * @example
 * await sleep(250, { signal: AbortSignal.timeout(1000) });
 * @throws {RangeError} when `ms` is negative or NaN.
 */
export function sleep(
  ms: number,
  options: Pick<WaitOptions, 'signal'> & { unref?: boolean } = {},
): Promise<void> {
  if (!(ms >= 0)) return Promise.reject(new RangeError(`sleep: ms must be >= 0, received ${String(ms)}`));
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (options.unref) timer.unref?.();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
