/**
 * Anything with a `stats()` method returning a plain object of numbers (nested objects allowed, e.g.
 * histogram snapshots). `@perf/monitor` flattens those numbers into gauges at read time, so a primitive
 * never pushes into a global registry: metrics are pulled.
 *
 * @example
 * const sem = new Semaphore(10);               // @perf/async
 * monitor.register('db_semaphore', sem);      // sem.stats().waiting → perf_db_semaphore_waiting
 */
export interface MetricsSource {
  stats(): object;
}

/** True when `value` has a callable `stats()`. */
export function isMetricsSource(value: unknown): value is MetricsSource {
  return typeof value === 'object' && value !== null && typeof (value as MetricsSource).stats === 'function';
}
