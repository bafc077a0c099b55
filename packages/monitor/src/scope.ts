import { performance } from 'node:perf_hooks';

/** Tags of an operation, e.g. `{ table: 'users' }`; they become labels of its metrics. */
export type Tags = Readonly<Record<string, string | number | boolean>>;

/** @internal Where a {@link TimingScope} reports when it ends. */
export interface OperationSink {
  recordOperation(
    name: string,
    tags: Tags | undefined,
    durationMs: number,
    failure?: { error: unknown },
  ): boolean;
}

/**
 * A running measurement of one operation, from {@link PerformanceMonitor.monitor}. It records the
 * elapsed time when it ends: explicitly with {@link TimingScope.end} or {@link TimingScope.fail}, or
 * implicitly when a `using` / `await using` block exits. Ending is idempotent: the first call records,
 * later ones return the same duration.
 *
 * A `using` block cannot see an exception thrown inside it (disposal gets no error), so a scope ended by
 * disposal always counts as a success. Call {@link TimingScope.fail} in a `catch`, or use
 * {@link PerformanceMonitor.time}, to count errors by name.
 *
 * @example
 * await using _ = monitor.monitor('db_query', { table: 'users' });
 * const rows = await db.query('select * from users');
 *
 * @example
 * const scope = monitor.monitor('render');
 * try { render(); } catch (err) { scope.fail(err); throw err; } finally { scope.end(); }
 */
export class TimingScope implements Disposable, AsyncDisposable {
  private readonly startedAt = performance.now();
  private durationMs: number | undefined;

  /** @internal Created by {@link PerformanceMonitor.monitor}. */
  constructor(
    private readonly sink: OperationSink,
    /** The operation's name. */
    readonly name: string,
    /** The operation's tags. */
    readonly tags: Tags | undefined,
  ) {}

  /** True once the scope has ended. */
  get ended(): boolean {
    return this.durationMs !== undefined;
  }

  /** Milliseconds since the scope began (its final duration once ended). */
  elapsedMs(): number {
    return this.durationMs ?? performance.now() - this.startedAt;
  }

  /** Ends the scope as a success and records its duration; returns the duration in ms. Idempotent. */
  end(): number {
    if (this.durationMs === undefined) {
      this.durationMs = performance.now() - this.startedAt;
      this.sink.recordOperation(this.name, this.tags, this.durationMs);
    }
    return this.durationMs;
  }

  /**
   * Ends the scope as a failure: records its duration and counts one error under the error's `name`
   * (`TypeError`, `TimeoutError`, ...; the `typeof` of a non-Error value). Returns the duration in ms.
   * Does nothing more if the scope already ended.
   */
  fail(error: unknown): number {
    if (this.durationMs === undefined) {
      this.durationMs = performance.now() - this.startedAt;
      this.sink.recordOperation(this.name, this.tags, this.durationMs, { error });
    }
    return this.durationMs;
  }

  /** Same as {@link TimingScope.end}, for `using`. */
  [Symbol.dispose](): void {
    this.end();
  }

  /** Same as {@link TimingScope.end}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.end();
    return Promise.resolve();
  }
}

/** The label value an error is counted under: its `name`, or the `typeof` of a non-Error value. */
export function errorName(error: unknown): string {
  if (error instanceof Error) return error.name || 'Error';
  if (error !== null && typeof error === 'object') {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return error === null ? 'null' : typeof error;
}

/**
 * Runs `fn` inside a scope of `sink`: records its duration, and counts an error by name when it throws
 * or its promise rejects (the error is rethrown unchanged). Synchronous functions stay synchronous.
 * @internal Used by {@link PerformanceMonitor.time} and {@link monitorPerformance}.
 */
export function runTimed<T>(sink: OperationSink, name: string, tags: Tags | undefined, fn: () => T): T {
  const scope = new TimingScope(sink, name, tags);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scope.fail(error);
    throw error;
  }
  if (
    result !== null &&
    typeof result === 'object' &&
    typeof (result as { then?: unknown }).then === 'function'
  ) {
    return (result as unknown as PromiseLike<unknown>).then(
      (value) => {
        scope.end();
        return value;
      },
      (error: unknown) => {
        scope.fail(error);
        throw error;
      },
    ) as T;
  }
  scope.end();
  return result;
}
