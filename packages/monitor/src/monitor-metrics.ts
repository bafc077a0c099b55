/**
 * @internal The metric families a {@link PerformanceMonitor} records into, named in one place so that the
 * README's metric list, the dashboard and the tests agree.
 */
import type { Counter } from './counter';
import type { Gauge } from './gauge';
import type { HistogramMetric } from './histogram-metric';
import type { MetricsRegistry } from './registry';
import type { ResourceSnapshot } from './sampler';

/** @internal */
export interface MonitorMetrics {
  operationDuration: HistogramMetric;
  operationErrors: Counter;
  requestDuration: HistogramMetric;
  dbDuration: HistogramMetric;
  dbRows: Counter;
  rejected: Counter;
  callbackErrors: Counter;
  gcPause: HistogramMetric;
  /** Created on the first sample, so that a monitor that never samples exports no zero gauges. */
  resources: ResourceGauges | undefined;
  registry: MetricsRegistry;
  prefix: string;
}

interface ResourceGauges {
  cpu: Gauge;
  memory: Gauge;
  eventLoopDelay: Gauge;
  eventLoopUtilization: Gauge;
  activeHandles: Gauge;
}

/** @internal Creates (or reuses, when the registry already has them) the monitor's families. */
export function createMonitorMetrics(registry: MetricsRegistry, p: string): MonitorMetrics {
  return {
    operationDuration: registry.histogram({
      name: `${p}operation_duration_ms`,
      help: 'Duration of monitored operations in ms, by operation and its tags',
    }),
    operationErrors: registry.counter({
      name: `${p}operation_errors_total`,
      help: 'Monitored operations that failed, by operation, error name and tags',
    }),
    requestDuration: registry.histogram({
      name: `${p}http_request_duration_ms`,
      help: 'HTTP request duration in ms, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
    }),
    dbDuration: registry.histogram({
      name: `${p}db_operation_duration_ms`,
      help: 'Database operation duration in ms, by operation and table',
      labelNames: ['operation', 'table'],
    }),
    dbRows: registry.counter({
      name: `${p}db_rows_affected_total`,
      help: 'Rows affected by database operations, by operation and table',
      labelNames: ['operation', 'table'],
    }),
    rejected: registry.counter({
      name: `${p}monitor_rejected_total`,
      help: 'Measurements the monitor rejected, by reason (duration, rows, tags)',
      labelNames: ['reason'],
    }),
    callbackErrors: registry.counter({
      name: `${p}monitor_callback_errors_total`,
      help: 'Alert and export callbacks that threw or rejected, by kind',
      labelNames: ['kind'],
    }),
    gcPause: registry.histogram({
      name: `${p}gc_pause_ms`,
      help: 'Garbage-collection pauses in ms, by kind (minor, major, incremental, weakcb)',
      labelNames: ['kind'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250],
    }),
    resources: undefined,
    registry,
    prefix: p,
  };
}

/** @internal Copies a sample into the resource gauges. */
export function setResourceGauges(m: MonitorMetrics, r: ResourceSnapshot): void {
  m.resources ??= createResourceGauges(m.registry, m.prefix);
  const g = m.resources;
  g.cpu.set({ mode: 'total' }, r.cpuPercent);
  g.cpu.set({ mode: 'user' }, r.cpuUserPercent);
  g.cpu.set({ mode: 'system' }, r.cpuSystemPercent);
  g.memory.set({ type: 'rss' }, r.rssBytes);
  g.memory.set({ type: 'heap_used' }, r.heapUsedBytes);
  g.memory.set({ type: 'heap_total' }, r.heapTotalBytes);
  g.memory.set({ type: 'external' }, r.externalBytes);
  g.memory.set({ type: 'array_buffers' }, r.arrayBuffersBytes);
  g.eventLoopDelay.set({ stat: 'p50' }, r.eventLoopDelayP50Ms);
  g.eventLoopDelay.set({ stat: 'p99' }, r.eventLoopDelayP99Ms);
  g.eventLoopDelay.set({ stat: 'max' }, r.eventLoopDelayMaxMs);
  g.eventLoopUtilization.set(undefined, r.eventLoopUtilization);
  g.activeHandles.set(undefined, r.activeHandles);
}

function createResourceGauges(registry: MetricsRegistry, p: string): ResourceGauges {
  return {
    cpu: registry.gauge({
      name: `${p}process_cpu_percent`,
      help: 'CPU time over wall time in the last sample interval, % of one core, by mode',
      labelNames: ['mode'],
    }),
    memory: registry.gauge({
      name: `${p}process_memory_bytes`,
      help: 'Process memory in bytes, by type (rss, heap_used, heap_total, external, array_buffers)',
      labelNames: ['type'],
    }),
    eventLoopDelay: registry.gauge({
      name: `${p}event_loop_delay_ms`,
      help: 'Event-loop delay over the last sample interval in ms, by stat (p50, p99, max)',
      labelNames: ['stat'],
    }),
    eventLoopUtilization: registry.gauge({
      name: `${p}event_loop_utilization`,
      help: 'Share of the last sample interval the event loop was busy (0..1)',
    }),
    activeHandles: registry.gauge({
      name: `${p}active_handles`,
      help: 'Handles and requests keeping the event loop alive',
    }),
  };
}
