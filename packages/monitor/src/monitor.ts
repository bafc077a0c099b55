import { AlertManager, type AlertRule } from './alerts';
import { buildDashboard, type DashboardData, MetricsCollector, writeJsonAtomic } from './dashboard';
import type { BoundHistogram } from './histogram-metric';
import type { Labels } from './labels';
import { createMonitorMetrics, type MonitorMetrics, setResourceGauges } from './monitor-metrics';
import { MetricsRegistry } from './registry';
import { ResourceSampler, type ResourceSnapshot } from './sampler';
import { errorName, type OperationSink, runTimed, type Tags, TimingScope } from './scope';
import type { MetricsSource } from './source';

/** Options of {@link PerformanceMonitor}. */
export interface PerformanceMonitorOptions {
  /** Registry the monitor's metrics live in. @default a new `MetricsRegistry()` owned by this monitor */
  registry?: MetricsRegistry;
  /** Prefix of every metric name the monitor creates. @default 'perf_' */
  prefix?: string;
  /**
   * Resource sampling interval in ms. 10 s matches the common Prometheus scrape interval (sampling faster
   * than scraping is wasted work), makes the cost of the samples themselves negligible (one takes ~25 µs
   * of CPU: 0.0003% of a core; the always-on event-loop probe costs more, see `eventLoopResolutionMs`),
   * and is still fine grained enough for alerts with `forMs` of a minute. Event-loop delay accumulates
   * between samples, so a stall shorter than the interval still shows in the next sample's max.
   * @default 10_000
   */
  sampleIntervalMs?: number;
  /** Event-loop delay probe resolution in ms (see `ResourceSamplerOptions` for the cost trade-off). @default 100 */
  eventLoopResolutionMs?: number;
  /** How many operations {@link PerformanceMonitor.getDashboardData} lists (slowest p95 first). @default 10 */
  topOperations?: number;
}

/** Counters of the monitor itself, from {@link PerformanceMonitor.stats}. */
export interface MonitorStats {
  /** Samples taken since creation. */
  samples: number;
  /** True while periodic sampling runs. */
  sampling: boolean;
  /** Measurements rejected (bad duration, bad row count, bad tag name). */
  rejected: number;
  /** Alert and export callbacks that threw or rejected. */
  callbackErrors: number;
  /** Alerts registered. */
  alerts: number;
  /** Export callbacks registered. */
  exportCallbacks: number;
}

/** A callback receiving the dashboard data after every sample (see {@link PerformanceMonitor.addExportCallback}). */
export type ExportCallback = (data: DashboardData) => void | Promise<void>;

/**
 * Times operations, records HTTP requests and database calls, samples process resources, evaluates
 * alerts and produces dashboard data, all into one {@link MetricsRegistry} (export it with
 * `toPrometheus(monitor.registry)`).
 *
 * Creating a monitor starts nothing: resource sampling (an unref'd timer, the event-loop delay probe and
 * a GC observer) begins with {@link PerformanceMonitor.start}, or with the first `addAlert` /
 * `addExportCallback`, and {@link PerformanceMonitor.close} stops all of it.
 *
 * Bad measurements never throw: a NaN, negative or infinite duration, a bad row count or an invalid tag
 * name is rejected (the call returns `false`) and counted in `perf_monitor_rejected_total{reason}`.
 *
 * @example
 * const monitor = getPerformanceMonitor();
 * await using _ = monitor.monitor('db_query', { table: 'users' });
 * const users = await db.query('select * from users');
 */
export class PerformanceMonitor implements OperationSink, Disposable {
  /** The registry holding every metric of this monitor. */
  readonly registry: MetricsRegistry;
  /** The prefix of every metric name. */
  readonly prefix: string;
  /** The sampling interval in ms. */
  readonly sampleIntervalMs: number;
  /** Epoch ms of creation. */
  readonly createdAt = Date.now();
  /** @internal The families the monitor records into. */
  readonly metrics: MonitorMetrics;
  /** @internal */
  readonly topOperations: number;
  /** @internal Registered sources, for the dashboard. */
  readonly sources = new Map<string, MetricsSource>();
  /** @internal */
  readonly alerts: AlertManager;

  private readonly sampler: ResourceSampler;
  private readonly exportCallbacks = new Set<ExportCallback>();
  private timer: NodeJS.Timeout | undefined;
  private lastResources: ResourceSnapshot | undefined;
  private samples = 0;
  private rejected = 0;
  private readonly requestSeries = new Map<string, Map<string, Map<number, BoundHistogram>>>();
  private requestSeriesCount = 0;
  private callbackErrors = 0;

  /** @throws {TypeError|RangeError} naming a bad option. */
  constructor(options: PerformanceMonitorOptions = {}) {
    const prefix = options.prefix ?? 'perf_';
    if (typeof prefix !== 'string' || !/^[a-zA-Z_:]?[a-zA-Z0-9_:]*$/.test(prefix)) {
      throw new TypeError(
        `PerformanceMonitor: prefix must be a valid metric name prefix, received ${String(prefix)}`,
      );
    }
    this.sampleIntervalMs = checkInteger('sampleIntervalMs', options.sampleIntervalMs ?? 10_000, 1);
    this.topOperations = checkInteger('topOperations', options.topOperations ?? 10, 0);
    this.prefix = prefix;
    this.registry = options.registry ?? new MetricsRegistry();
    this.metrics = createMonitorMetrics(this.registry, prefix);
    this.sampler = new ResourceSampler({
      ...(options.eventLoopResolutionMs === undefined
        ? {}
        : { eventLoopResolutionMs: options.eventLoopResolutionMs }),
      onGc: (kind, ms) => this.metrics.gcPause.record({ kind }, ms),
    });
    this.alerts = new AlertManager((error) => this.callbackFailed('alert', error));
  }

  /**
   * Starts timing an operation; the returned scope records its duration when it ends (see
   * {@link TimingScope}). Recorded in `<prefix>operation_duration_ms{operation, ...tags}`; errors go to
   * `<prefix>operation_errors_total{operation, error, ...tags}`. Tag values are truncated to 256
   * characters; each family keeps at most 1,000 label sets (more fold into `{overflow="true"}`).
   *
   * @example
   * await using _ = monitor.monitor('database_query', { table: 'users' });
   * @throws {TypeError} when `name` is not a non-empty string.
   */
  monitor(name: string, tags?: Tags): TimingScope {
    checkName(name);
    return new TimingScope(this, name, tags);
  }

  /**
   * Runs `fn` and records its duration under `name`; if it throws or its promise rejects, also counts the
   * error by name and rethrows it. A synchronous `fn` stays synchronous.
   *
   * @example
   * const user = await monitor.time('get_user', { source: 'db' }, () => db.users.get(id));
   * @throws {TypeError} when `name` is not a non-empty string or `fn` not a function.
   */
  time<T>(name: string, fn: () => T): T;
  time<T>(name: string, tags: Tags | undefined, fn: () => T): T;
  time<T>(name: string, tagsOrFn: Tags | undefined | (() => T), maybeFn?: () => T): T {
    checkName(name);
    const fn = typeof tagsOrFn === 'function' ? tagsOrFn : maybeFn;
    if (typeof fn !== 'function') throw new TypeError(`time: fn must be a function, received ${String(fn)}`);
    return runTimed(this, name, typeof tagsOrFn === 'function' ? undefined : tagsOrFn, fn);
  }

  /**
   * Records one finished operation (what a {@link TimingScope} calls). When `failure` is given, its
   * `error` is counted by name. Returns `false` when the duration or a tag name was rejected.
   *
   * @example
   * monitor.recordOperation('import', { source: 'csv' }, 812, { error: new RangeError('bad row') });
   */
  recordOperation(
    name: string,
    tags: Tags | undefined,
    durationMs: number,
    failure?: { error: unknown },
  ): boolean {
    if (!validDuration(durationMs)) return this.reject('duration');
    try {
      const labels = operationLabels(name, tags);
      this.metrics.operationDuration.record(labels, durationMs);
      if (failure) {
        labels.error = errorName(failure.error);
        this.metrics.operationErrors.inc(labels);
      }
      return true;
    } catch {
      return this.reject('tags');
    }
  }

  /**
   * Records one HTTP request in `<prefix>http_request_duration_ms{method, route, status}`.
   *
   * Pass the route *template* (`/users/:id`), never the raw URL: every distinct label value is a series
   * kept in memory and in every monitoring backend, so raw URLs (ids, query strings, scanner probes) make
   * the number of series grow without bound. A query string is cut off as a safety net, and the family's
   * cardinality cap folds anything past 1,000 label sets into `{overflow="true"}`. The middlewares of
   * `@perf/monitor/node|express|fastify|hono` pass the template the router matched.
   *
   * @example
   * monitor.trackRequest('/api/users/:id', 'GET', 200, 12.5);
   * @returns `false` when the duration was rejected (NaN, negative, infinite).
   */
  trackRequest(path: string, method: string, status: number, durationMs: number): boolean {
    if (!validDuration(durationMs)) return this.reject('duration');
    this.requestSeriesOf(path, method, status).record(durationMs);
    return true;
  }

  /**
   * The series {@link PerformanceMonitor.trackRequest} records `path`, `method` and `status` in, for
   * callers that record many requests of the same kind (the HTTP middlewares keep the last one).
   * @internal
   */
  requestSeriesOf(path: string, method: string, status: number): BoundHistogram {
    const q = typeof path === 'string' ? path.indexOf('?') : -1;
    const route = q >= 0 ? path.slice(0, q) : path;
    return (
      this.requestSeries.get(route)?.get(method)?.get(status) ?? this.requestSeriesSlow(route, method, status)
    );
  }

  /**
   * Records one database call in `<prefix>db_operation_duration_ms{operation, table}` and, when given,
   * its affected rows in `<prefix>db_rows_affected_total{operation, table}`.
   *
   * @example
   * monitor.trackDatabaseOperation('SELECT', 'users', 2.1, 10);
   * @returns `false` when the duration or `rowsAffected` (must be a finite number ≥ 0) was rejected.
   */
  trackDatabaseOperation(
    operation: string,
    table: string,
    durationMs: number,
    rowsAffected?: number,
  ): boolean {
    if (!validDuration(durationMs)) return this.reject('duration');
    if (rowsAffected !== undefined && !validDuration(rowsAffected)) return this.reject('rows');
    const labels = { operation, table };
    this.metrics.dbDuration.record(labels, durationMs);
    if (rowsAffected !== undefined) this.metrics.dbRows.inc(labels, rowsAffected);
    return true;
  }

  /**
   * Registers a {@link MetricsSource} (anything with `stats()`, e.g. a `Semaphore` of `@perf/async`): its
   * numbers become gauges `<prefix><name>_<path>` at read time (e.g. `perf_db_semaphore_waiting`) and its
   * stats appear in the dashboard's `sources`. Registering a name again replaces the source.
   * @throws {TypeError} when `source` has no `stats()` or the name is invalid or taken.
   */
  register(name: string, source: MetricsSource, labels?: Labels): this {
    this.registry.registerSource(`${this.prefix}${name}`, source, labels);
    this.sources.set(name, source);
    return this;
  }

  /** True while periodic sampling runs. */
  get sampling(): boolean {
    return this.timer !== undefined;
  }

  /** Starts periodic resource sampling (unref'd timer, event-loop and GC probes). Idempotent. */
  start(): this {
    if (this.timer) return this;
    this.sampler.start();
    this.timer = setInterval(() => this.sample(), this.sampleIntervalMs);
    this.timer.unref();
    return this;
  }

  /**
   * Takes a resource sample now: updates the resource gauges, evaluates alerts and calls the export
   * callbacks (whose errors are isolated and counted). The periodic timer calls this.
   */
  sample(): ResourceSnapshot {
    const resources = this.sampler.sample();
    this.lastResources = resources;
    this.samples++;
    setResourceGauges(this.metrics, resources);
    const wantsData = this.exportCallbacks.size > 0 || this.alerts.needsDashboard;
    const data = wantsData ? this.getDashboardData() : undefined;
    this.alerts.evaluate(resources, data, resources.timestamp);
    if (data) {
      for (const cb of this.exportCallbacks) {
        try {
          const out = cb(data);
          if (out && typeof out.then === 'function')
            out.then(undefined, (e) => this.callbackFailed('export', e));
        } catch (error) {
          this.callbackFailed('export', error);
        }
      }
    }
    return resources;
  }

  /**
   * Adds an alert evaluated on every sample (and starts sampling). Returns a function removing it.
   *
   * @example
   * monitor.addAlert({ name: 'high-cpu', metric: 'cpuPercent', above: 90, forMs: 60_000,
   *   callback: (e) => pager.send(`${e.name} ${e.state}: ${e.value.toFixed(0)}%`) });
   * @throws {TypeError|RangeError} see {@link AlertManager.add}.
   */
  addAlert(rule: AlertRule): () => void {
    const remove = this.alerts.add(rule);
    this.start();
    return remove;
  }

  /**
   * Calls `callback` with the dashboard data after every sample (and starts sampling). A throwing or
   * rejecting callback is counted in `<prefix>monitor_callback_errors_total{kind="export"}` and never
   * stops sampling. Returns a function removing it.
   * @throws {TypeError} when `callback` is not a function.
   */
  addExportCallback(callback: ExportCallback): () => void {
    if (typeof callback !== 'function') {
      throw new TypeError(`addExportCallback: callback must be a function, received ${String(callback)}`);
    }
    const wrapped: ExportCallback = (data) => callback(data);
    this.exportCallbacks.add(wrapped);
    this.start();
    return () => {
      this.exportCallbacks.delete(wrapped);
    };
  }

  /**
   * A JSON-serialisable view for dashboards: latest resources (a fresh reading when sampling is not
   * running), top operations by p95, request stats by route and status, database calls, alerts and
   * registered sources.
   */
  getDashboardData(): DashboardData {
    const resources = this.timer && this.lastResources ? this.lastResources : this.sampler.sample();
    return buildDashboard(this, resources);
  }

  /** The seed's summary API: `monitor.metricsCollector.getSummary()`. */
  get metricsCollector(): MetricsCollector {
    return new MetricsCollector(this);
  }

  /**
   * Writes {@link getDashboardData} as JSON to `path` atomically (a temp file in the same directory, then
   * a rename), so a reader never sees a half-written file.
   * @throws the file system error when the directory is missing or not writable (the temp file is removed).
   */
  exportToFile(path: string): Promise<void> {
    return writeJsonAtomic(path, this.getDashboardData());
  }

  /** Counters of the monitor itself. */
  stats(): MonitorStats {
    return {
      samples: this.samples,
      sampling: this.sampling,
      rejected: this.rejected,
      callbackErrors: this.callbackErrors,
      alerts: this.alerts.size,
      exportCallbacks: this.exportCallbacks.size,
    };
  }

  /** Stops sampling: clears the timer, disables the event-loop probe and the GC observer. Idempotent. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sampler.stop();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * A request's bound series, cached in nested maps (route → method → status) so the per-request path
   * builds no label key string. The cache holds at most the family's cardinality cap; past it (raw URLs
   * as routes, say) requests take the family's own lookup, which folds them into the overflow series.
   */
  private requestSeriesSlow(route: string, method: string, status: number): BoundHistogram {
    const family = this.metrics.requestDuration;
    const bound = family.labels({ method, route, status });
    if (this.requestSeriesCount >= family.maxSeries) return bound;
    let byMethod = this.requestSeries.get(route);
    if (!byMethod) {
      byMethod = new Map();
      this.requestSeries.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (!byStatus) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    byStatus.set(status, bound);
    this.requestSeriesCount++;
    return bound;
  }

  private reject(reason: string): false {
    this.rejected++;
    this.metrics.rejected.inc({ reason });
    return false;
  }

  private callbackFailed(kind: 'alert' | 'export', _error: unknown): void {
    this.callbackErrors++;
    this.metrics.callbackErrors.inc({ kind });
  }
}

let processMonitor: PerformanceMonitor | undefined;

/**
 * The process-wide monitor, created with default options on first call. Creating it starts nothing;
 * call `start()` for resource sampling. To configure it, install your own with
 * {@link setPerformanceMonitor} before first use.
 *
 * @example
 * const monitor = getPerformanceMonitor();
 * monitor.trackRequest('/api/users', 'GET', 200, 50);
 */
export function getPerformanceMonitor(): PerformanceMonitor {
  processMonitor ??= new PerformanceMonitor();
  return processMonitor;
}

/**
 * Replaces the process-wide monitor (e.g. one with your own registry or prefix); `undefined` makes the
 * next {@link getPerformanceMonitor} create a fresh one. Returns the previous monitor (not closed).
 */
export function setPerformanceMonitor(
  monitor: PerformanceMonitor | undefined,
): PerformanceMonitor | undefined {
  if (monitor !== undefined && !(monitor instanceof PerformanceMonitor)) {
    throw new TypeError(`setPerformanceMonitor: expected a PerformanceMonitor, received ${String(monitor)}`);
  }
  const previous = processMonitor;
  processMonitor = monitor;
  return previous;
}

/**
 * `{ operation, ...tags }` built by assignment: an object spread of a caller's object here cost ~10× the
 * whole recording (measured), as V8 copies it into a slow-mode object that every later key walk pays for.
 * A tag named `operation` is overridden by the operation's name.
 */
function operationLabels(name: string, tags: Tags | undefined): Record<string, string | number | boolean> {
  const labels: Record<string, string | number | boolean> = { operation: name };
  if (tags !== undefined) {
    for (const key in tags) if (key !== 'operation') labels[key] = tags[key]!;
  }
  return labels;
}

/** @internal A duration or count the monitor accepts: a number >= 0 and finite (NaN fails). */
export function validDuration(ms: number): boolean {
  return ms >= 0 && ms !== Number.POSITIVE_INFINITY;
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(
      `PerformanceMonitor: operation name must be a non-empty string, received ${String(name)}`,
    );
  }
}

function checkInteger(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(
      `PerformanceMonitor: ${option} must be an integer >= ${min}, received ${String(value)}`,
    );
  }
  return value;
}
