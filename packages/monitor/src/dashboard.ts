/**
 * Read-side views of a {@link PerformanceMonitor}: the dashboard JSON, the seed's `getSummary()`, and the
 * atomic file export. Everything here walks the registry's series at read time; nothing is precomputed on
 * the recording path.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import type { AlertStatus } from './alerts';
import { Histogram } from './histogram';
import type { MonitorStats, PerformanceMonitor } from './monitor';
import type { ResourceSnapshot } from './sampler';

/** Latency figures of a set of measurements, in ms. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** One operation (name + tags) timed with `monitor()`, `time()` or `monitorPerformance()`. */
export interface OperationSummary extends LatencySummary {
  /** Operation name, `(overflow)` for label sets past the cardinality cap. */
  name: string;
  tags: Record<string, string>;
  /** Failures, all error names together. */
  errors: number;
  /** Failures by error name. */
  errorsByName: Record<string, number>;
  /** `errors / count`, `0` when nothing was recorded. */
  errorRate: number;
}

/** Requests of one method + route template, all statuses together. */
export interface RouteSummary extends LatencySummary {
  method: string;
  route: string;
  /** Requests per status code, e.g. `{ "200": 98, "500": 2 }`. */
  statuses: Record<string, number>;
  /** Requests answered with a 5xx status. */
  serverErrors: number;
}

/** Calls of one database operation on one table. */
export interface DatabaseSummary extends LatencySummary {
  operation: string;
  table: string;
  rowsAffected: number;
}

/** Request totals and per-route breakdown. */
export interface RequestsSummary {
  total: number;
  serverErrors: number;
  /** Busiest routes first. */
  byRoute: RouteSummary[];
}

/** What {@link PerformanceMonitor.getDashboardData} returns: plain JSON. */
export interface DashboardData {
  /** ISO time of this view. */
  timestamp: string;
  /** Seconds since the monitor was created. */
  uptimeSeconds: number;
  resources: ResourceSnapshot;
  /** The slowest operations by p95 (at most the monitor's `topOperations`). */
  operations: OperationSummary[];
  requests: RequestsSummary;
  /** Database operations, slowest p95 first. */
  database: DatabaseSummary[];
  alerts: AlertStatus[];
  /** `stats()` of every registered source (a throwing one reads `{ error: message }`). */
  sources: Record<string, object>;
  monitor: MonitorStats;
}

/** What {@link MetricsCollector.getSummary} returns: every operation, request route and database call. */
export interface MetricsSummary {
  timestamp: string;
  /** Every operation, by name then tags. */
  operations: OperationSummary[];
  requests: RequestsSummary;
  database: DatabaseSummary[];
  monitor: MonitorStats;
}

/**
 * The seed's `metrics_collector`: a read-only view of what a monitor collected.
 *
 * @example
 * const summary = monitor.metricsCollector.getSummary();
 * console.log(summary.requests.total, summary.operations[0]?.p95Ms);
 */
export class MetricsCollector {
  /** @internal Use {@link PerformanceMonitor.metricsCollector}. */
  constructor(private readonly monitor: PerformanceMonitor) {}

  /** Every operation, request route and database call recorded so far, with latency percentiles. */
  getSummary(): MetricsSummary {
    const operations = summarizeOperations(this.monitor).sort(
      (a, b) => a.name.localeCompare(b.name) || JSON.stringify(a.tags).localeCompare(JSON.stringify(b.tags)),
    );
    return {
      timestamp: new Date().toISOString(),
      operations,
      requests: summarizeRequests(this.monitor),
      database: summarizeDatabase(this.monitor),
      monitor: this.monitor.stats(),
    };
  }
}

/** @internal Builds {@link DashboardData} from the monitor's families. */
export function buildDashboard(monitor: PerformanceMonitor, resources: ResourceSnapshot): DashboardData {
  const operations = summarizeOperations(monitor)
    .sort((a, b) => b.p95Ms - a.p95Ms)
    .slice(0, monitor.topOperations);
  const sources: Record<string, object> = {};
  for (const [name, source] of monitor.sources) {
    try {
      sources[name] = source.stats();
    } catch (error) {
      sources[name] = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  return {
    timestamp: new Date().toISOString(),
    uptimeSeconds: (Date.now() - monitor.createdAt) / 1000,
    resources,
    operations,
    requests: summarizeRequests(monitor),
    database: summarizeDatabase(monitor),
    alerts: monitor.alerts.statuses(),
    sources,
    monitor: monitor.stats(),
  };
}

/**
 * @internal Writes `value` as JSON to `path` via a temp file in the same directory and a rename (atomic
 * on POSIX file systems), removing the temp file if anything fails.
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  if (typeof path !== 'string' || path === '') {
    throw new TypeError(`exportToFile: path must be a non-empty string, received ${String(path)}`);
  }
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { flag: 'wx' });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

function latency(h: Histogram): LatencySummary {
  const s = h.snapshot();
  return { count: s.count, meanMs: s.mean, p50Ms: s.p50, p95Ms: s.p95, p99Ms: s.p99, maxMs: s.max };
}

/** Key of a label set without `error`, to match error counts to duration series. */
function keyWithout(labels: Readonly<Record<string, string>>, skip: string): string {
  let key = '';
  for (const name of Object.keys(labels).sort()) if (name !== skip) key += `${name}=${labels[name]}\u0000`;
  return key;
}

function summarizeOperations(monitor: PerformanceMonitor): OperationSummary[] {
  const errors = new Map<string, Record<string, number>>();
  for (const s of monitor.metrics.operationErrors.series()) {
    const key = keyWithout(s.labels, 'error');
    const byName = errors.get(key) ?? {};
    const name = s.labels.error ?? 'unknown';
    byName[name] = (byName[name] ?? 0) + s.value;
    errors.set(key, byName);
  }
  const out: OperationSummary[] = [];
  for (const s of monitor.metrics.operationDuration.series()) {
    const { operation, ...tags } = s.labels;
    const errorsByName = errors.get(keyWithout(s.labels, 'error')) ?? {};
    const failed = Object.values(errorsByName).reduce((a, b) => a + b, 0);
    const l = latency(s);
    out.push({
      name: operation ?? '(overflow)',
      tags,
      ...l,
      errors: failed,
      errorsByName,
      errorRate: l.count > 0 ? failed / l.count : 0,
    });
  }
  return out;
}

function summarizeRequests(monitor: PerformanceMonitor): RequestsSummary {
  const routes = new Map<
    string,
    { method: string; route: string; merged: Histogram; statuses: Record<string, number> }
  >();
  let total = 0;
  let serverErrors = 0;
  for (const s of monitor.metrics.requestDuration.series()) {
    const method = s.labels.method ?? '';
    const route = s.labels.route ?? '(overflow)';
    const status = s.labels.status ?? '';
    const key = `${method} ${route}`;
    let entry = routes.get(key);
    if (!entry) {
      entry = {
        method,
        route,
        merged: new Histogram({ relativeAccuracy: s.relativeAccuracy }),
        statuses: {},
      };
      routes.set(key, entry);
    }
    entry.merged.merge(s);
    entry.statuses[status] = (entry.statuses[status] ?? 0) + s.count;
    total += s.count;
    if (status.startsWith('5')) serverErrors += s.count;
  }
  const byRoute = [...routes.values()].map(({ method, route, merged, statuses }) => ({
    method,
    route,
    ...latency(merged),
    statuses,
    serverErrors: Object.entries(statuses).reduce((n, [code, c]) => (code.startsWith('5') ? n + c : n), 0),
  }));
  byRoute.sort((a, b) => b.count - a.count);
  return { total, serverErrors, byRoute };
}

function summarizeDatabase(monitor: PerformanceMonitor): DatabaseSummary[] {
  const out: DatabaseSummary[] = [];
  for (const s of monitor.metrics.dbDuration.series()) {
    const operation = s.labels.operation ?? '(overflow)';
    const table = s.labels.table ?? '';
    const rowsAffected = s.labels.overflow ? 0 : monitor.metrics.dbRows.get({ operation, table });
    out.push({ operation, table, rowsAffected, ...latency(s) });
  }
  return out.sort((a, b) => b.p95Ms - a.p95Ms);
}
