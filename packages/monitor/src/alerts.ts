import type { DashboardData } from './dashboard';
import type { ResourceSnapshot } from './sampler';

/** A resource figure an alert can watch by name, e.g. `'cpuPercent'` or `'eventLoopDelayP99Ms'`. */
export type ResourceMetricName = Exclude<keyof ResourceSnapshot, 'timestamp' | 'intervalMs'>;

const RESOURCE_METRICS: ReadonlySet<string> = new Set<ResourceMetricName>([
  'cpuPercent',
  'cpuUserPercent',
  'cpuSystemPercent',
  'rssBytes',
  'heapUsedBytes',
  'heapTotalBytes',
  'externalBytes',
  'arrayBuffersBytes',
  'eventLoopDelayP50Ms',
  'eventLoopDelayP99Ms',
  'eventLoopDelayMaxMs',
  'eventLoopUtilization',
  'activeHandles',
  'gcCount',
  'gcPauseMs',
]);

/** What an alert callback receives when an alert fires or resolves. */
export interface AlertEvent {
  /** The alert's name. */
  name: string;
  /** `firing` once per breach; `resolved` when the value is back within bounds. */
  state: 'firing' | 'resolved';
  /** The watched metric's name (`'custom'` for a function metric). */
  metric: string;
  /** The value read at this sample. */
  value: number;
  /** The bound that was crossed. */
  threshold: number;
  /** Which bound: the value went `above` or `below` it. */
  direction: 'above' | 'below';
  /** Epoch ms when the breach began (first sample out of bounds). */
  since: number;
  /** Epoch ms of this event. */
  at: number;
}

/**
 * An alert on a resource figure or any number derived from the dashboard data, evaluated on every sample.
 * Give `above`, `below` or both.
 */
export interface AlertRule {
  /** Unique name, shown in the dashboard and in events. */
  name: string;
  /** A {@link ResourceMetricName}, or a function of the dashboard data (return `undefined` to skip a sample). */
  metric: ResourceMetricName | ((data: DashboardData) => number | undefined);
  /** Breach when the value is strictly greater than this. */
  above?: number;
  /** Breach when the value is strictly lower than this. */
  below?: number;
  /**
   * How long the value must stay out of bounds before the alert fires, so a single spike does not page.
   * Measured between samples, so the effective delay is rounded up to the sampling interval.
   * @default 0
   */
  forMs?: number;
  /**
   * Least time between two firings of this alert, so a flapping value does not repeat the page. A breach
   * inside the cooldown fires when the cooldown ends, if it still lasts.
   * @default 0
   */
  cooldownMs?: number;
  /** Receives `firing` events, and `resolved` ones too unless `onResolve` is given. May be async. */
  callback: (event: AlertEvent) => void | Promise<void>;
  /** Receives `resolved` events instead of `callback`. May be async. */
  onResolve?: (event: AlertEvent) => void | Promise<void>;
}

/** The current state of one alert, as shown by {@link PerformanceMonitor.getDashboardData}. */
export interface AlertStatus {
  name: string;
  metric: string;
  /** `ok` within bounds; `pending` out of bounds but not yet for `forMs` (or in cooldown); `firing`. */
  state: 'ok' | 'pending' | 'firing';
  /** Last value read, `null` before the first evaluation. */
  value: number | null;
  /** Epoch ms when the current breach began, `null` when `ok`. */
  since: number | null;
  /** How many times the alert has fired. */
  firedCount: number;
  /** Epoch ms of the last firing, `null` if never. */
  lastFiredAt: number | null;
}

interface AlertState extends AlertStatus {
  rule: AlertRule;
  direction: 'above' | 'below';
  threshold: number;
}

/**
 * Evaluates {@link AlertRule}s against each sample: an alert fires once per breach (after `forMs`, outside
 * `cooldownMs`) and resolves once when the value is back within bounds. A callback that throws or rejects
 * is isolated and reported through `onCallbackError`; it never stops evaluation of the others.
 */
export class AlertManager {
  private readonly alerts = new Map<string, AlertState>();

  /** @param onCallbackError called (never throws) when a callback throws or its promise rejects. */
  constructor(private readonly onCallbackError: (error: unknown, alert: string) => void) {}

  /** True when some alert needs the dashboard data (a function metric). */
  get needsDashboard(): boolean {
    for (const a of this.alerts.values()) if (typeof a.rule.metric === 'function') return true;
    return false;
  }

  /** Number of alerts. */
  get size(): number {
    return this.alerts.size;
  }

  /**
   * Adds an alert; returns a function that removes it.
   * @throws {TypeError} when the name is empty or already used, the metric is neither a resource name nor a
   * function, the callback is missing, or
   * neither `above` nor `below` is a finite number.
   * @throws {RangeError} when `forMs` or `cooldownMs` is negative or not finite.
   */
  add(rule: AlertRule): () => void {
    if (!rule || typeof rule.name !== 'string' || rule.name === '') {
      throw new TypeError(`addAlert: name must be a non-empty string, received ${String(rule?.name)}`);
    }
    if (this.alerts.has(rule.name)) throw new TypeError(`addAlert: an alert named "${rule.name}" exists`);
    if (
      typeof rule.metric === 'string' ? !RESOURCE_METRICS.has(rule.metric) : typeof rule.metric !== 'function'
    ) {
      throw new TypeError(
        `addAlert: metric must be a resource name or a function, received ${String(rule.metric)}`,
      );
    }
    if (typeof rule.callback !== 'function') {
      throw new TypeError(`addAlert: callback must be a function, received ${String(rule.callback)}`);
    }
    if (rule.onResolve !== undefined && typeof rule.onResolve !== 'function') {
      throw new TypeError(`addAlert: onResolve must be a function, received ${String(rule.onResolve)}`);
    }
    const bound = (v: number | undefined) => v === undefined || Number.isFinite(v);
    if ((rule.above === undefined && rule.below === undefined) || !bound(rule.above) || !bound(rule.below)) {
      throw new TypeError(
        `addAlert: give a finite above and/or below, received above=${String(rule.above)} below=${String(rule.below)}`,
      );
    }
    for (const key of ['forMs', 'cooldownMs'] as const) {
      const v = rule[key];
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
        throw new RangeError(`addAlert: ${key} must be a finite number >= 0, received ${String(v)}`);
      }
    }
    const name = rule.name;
    this.alerts.set(name, {
      rule: { ...rule },
      name,
      metric: typeof rule.metric === 'string' ? rule.metric : 'custom',
      state: 'ok',
      value: null,
      since: null,
      firedCount: 0,
      lastFiredAt: null,
      direction: 'above',
      threshold: Number.NaN,
    });
    return () => {
      this.alerts.delete(name);
    };
  }

  /** Evaluates every alert at epoch ms `now`. `data` is needed only by function metrics. */
  evaluate(resources: ResourceSnapshot, data: DashboardData | undefined, now: number): void {
    for (const alert of this.alerts.values()) {
      const value = this.read(alert, resources, data);
      if (value === undefined || Number.isNaN(value)) continue;
      alert.value = value;
      const { above, below } = alert.rule;
      const breach =
        above !== undefined && value > above
          ? { direction: 'above' as const, threshold: above }
          : below !== undefined && value < below
            ? { direction: 'below' as const, threshold: below }
            : undefined;
      if (!breach) {
        if (alert.state === 'firing') this.emit(alert, 'resolved', value, now);
        alert.state = 'ok';
        alert.since = null;
        continue;
      }
      alert.direction = breach.direction;
      alert.threshold = breach.threshold;
      if (alert.state === 'firing') continue;
      alert.since ??= now;
      alert.state = 'pending';
      const lasted = now - alert.since >= (alert.rule.forMs ?? 0);
      const cooled = alert.lastFiredAt === null || now - alert.lastFiredAt >= (alert.rule.cooldownMs ?? 0);
      if (lasted && cooled) {
        alert.state = 'firing';
        alert.firedCount++;
        alert.lastFiredAt = now;
        this.emit(alert, 'firing', value, now);
      }
    }
  }

  /** Plain snapshot of every alert's state. */
  statuses(): AlertStatus[] {
    return [...this.alerts.values()].map(
      ({ name, metric, state, value, since, firedCount, lastFiredAt }) => ({
        name,
        metric,
        state,
        value,
        since,
        firedCount,
        lastFiredAt,
      }),
    );
  }

  private read(alert: AlertState, resources: ResourceSnapshot, data: DashboardData | undefined) {
    const metric = alert.rule.metric;
    if (typeof metric === 'string') return resources[metric];
    if (!data) return undefined;
    try {
      return metric(data);
    } catch (error) {
      this.onCallbackError(error, alert.name);
      return undefined;
    }
  }

  private emit(alert: AlertState, state: AlertEvent['state'], value: number, now: number): void {
    const event: AlertEvent = {
      name: alert.name,
      state,
      metric: alert.metric,
      value,
      threshold: alert.threshold,
      direction: alert.direction,
      since: alert.since ?? now,
      at: now,
    };
    const target = state === 'resolved' && alert.rule.onResolve ? alert.rule.onResolve : alert.rule.callback;
    try {
      const out = target(event);
      if (out && typeof (out as Promise<void>).then === 'function') {
        (out as Promise<void>).then(undefined, (error: unknown) => this.onCallbackError(error, alert.name));
      }
    } catch (error) {
      this.onCallbackError(error, alert.name);
    }
  }
}
