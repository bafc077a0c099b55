export {
  type AlertEvent,
  AlertManager,
  type AlertRule,
  type AlertStatus,
  type ResourceMetricName,
} from './alerts';
export { type BoundCounter, Counter, type CounterOptions, CounterSeries } from './counter';
export {
  type DashboardData,
  type DatabaseSummary,
  type LatencySummary,
  MetricsCollector,
  type MetricsSummary,
  type OperationSummary,
  type RequestsSummary,
  type RouteSummary,
} from './dashboard';
export { isMonitorError, MonitorError } from './errors';
export { MetricFamily, type MetricOptions, type MetricType, OVERFLOW_LABELS, type Series } from './family';
export { type FlatStat, type FlattenOptions, flattenStats, snakeCase } from './flatten';
export { type BoundGauge, Gauge, type GaugeOptions, GaugeSeries } from './gauge';
export { Histogram, type HistogramJSON, type HistogramOptions, type HistogramSnapshot } from './histogram';
export {
  type BoundHistogram,
  DEFAULT_BUCKETS_MS,
  HistogramMetric,
  type HistogramMetricOptions,
  HistogramSeries,
} from './histogram-metric';
export {
  isValidLabelName,
  isValidMetricName,
  type Labels,
  MAX_LABEL_VALUE_LENGTH,
  type SeriesLabels,
} from './labels';
export {
  type ExportCallback,
  getPerformanceMonitor,
  type MonitorStats,
  PerformanceMonitor,
  type PerformanceMonitorOptions,
  setPerformanceMonitor,
} from './monitor';
export { type MonitorPerformanceOptions, monitorPerformance } from './monitor-performance';
export {
  createPrometheusHandler,
  escapeLabelValue,
  PROMETHEUS_CONTENT_TYPE,
  toPrometheus,
} from './prometheus';
export {
  type CollectedMetric,
  DROPPED_SERIES_METRIC,
  type HistogramMetricSnapshot,
  INVALID_VALUES_METRIC,
  type Metric,
  type MetricSnapshot,
  MetricsRegistry,
  type MetricsRegistryOptions,
  SOURCE_ERRORS_METRIC,
  type ValueMetricSnapshot,
  type ValueSeries,
} from './registry';
export { ResourceSampler, type ResourceSamplerOptions, type ResourceSnapshot } from './sampler';
export { errorName, type Tags, TimingScope } from './scope';
export { isMetricsSource, type MetricsSource } from './source';
