/**
 * Errors @perf/monitor throws. Bad options and bad metric/label names throw plain `TypeError`/`RangeError`
 * naming the option (the platform convention); `MonitorError` is the base for failures of the monitor
 * itself. Each class sets `name`, carries a stable `code` and a brand property checked by its guard, so
 * the guard works across duplicate installs of this package (where `instanceof` fails).
 *
 * Bad *measurements* never throw: NaN/negative/infinite values are ignored and counted, label sets past
 * the cardinality cap are folded into an `{overflow="true"}` series, and a throwing `stats()` is counted
 * and skipped, so instrumentation can never take a request down.
 */

/** Base of every @perf/monitor error. */
export class MonitorError extends Error {
  /** Brand shared by every @perf/monitor error. */
  readonly isPerfMonitorError = true;
  constructor(
    message: string,
    /** Stable machine-readable code, e.g. `ERR_MONITOR_CLOSED`. */
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'MonitorError';
  }
}

/** True for any error thrown by @perf/monitor (also from another copy of the package). */
export const isMonitorError = (e: unknown): e is MonitorError =>
  e instanceof Error && (e as Partial<MonitorError>).isPerfMonitorError === true;
