/**
 * The pulled {@link MetricsSource}s of a registry: each is read only when the registry is read, and its
 * `stats()` numbers become gauge views named `<source>_<path>` (see {@link flattenStats}).
 */
import { flattenStats } from './flatten';
import { checkMetricName, type Labels, normaliseLabels, type SeriesLabels } from './labels';
import type { CollectedMetric, ValueSeries } from './registry';
import { isMetricsSource, type MetricsSource } from './source';

interface RegisteredSource {
  readonly source: MetricsSource;
  readonly labels: SeriesLabels;
  /** The labels as a string, to detect two sources writing the same series. */
  readonly key: string;
}

/** @internal Owned by a `MetricsRegistry`. */
export class SourceSet {
  private readonly sources = new Map<string, RegisteredSource>();

  /**
   * Adds (or replaces) the source `name`.
   * @throws {TypeError} for an invalid name, a source without `stats()`, or an invalid label name.
   */
  register(name: string, source: MetricsSource, labels?: Labels): void {
    checkMetricName('MetricsRegistry.registerSource', 'name', name);
    if (!isMetricsSource(source)) {
      throw new TypeError(`MetricsRegistry.registerSource: source "${name}" must have a stats() method`);
    }
    const normalised = normaliseLabels('MetricsRegistry.registerSource', labels, undefined, []);
    this.sources.set(name, { source, labels: normalised, key: JSON.stringify(normalised) });
  }

  unregister(name: string): boolean {
    return this.sources.delete(name);
  }

  clear(): void {
    this.sources.clear();
  }

  /**
   * Reads every source into gauge views. A throwing `stats()`, or a leaf whose name `isClaimed` by a
   * family, is reported to `onError` with the source name and skipped.
   */
  collect(isClaimed: (metric: string) => boolean, onError: (source: string) => void): CollectedMetric[] {
    const byName = new Map<string, ValueSeries[]>();
    // Two sources can flatten to the same name (`a` + `b_c` and `a_b` + `c`); with equal labels that
    // would be a duplicate sample, which Prometheus rejects, so the later one is skipped and counted.
    const taken = new Set<string>();
    for (const [name, { source, labels, key }] of this.sources) {
      let leaves: ReturnType<typeof flattenStats>;
      try {
        leaves = flattenStats(source.stats());
      } catch {
        onError(name);
        continue;
      }
      for (const [path, value] of leaves) {
        const metric = `${name}_${path}`;
        if (isClaimed(metric) || taken.has(`${metric}${key}`)) {
          onError(name);
          continue;
        }
        taken.add(`${metric}${key}`);
        const list = byName.get(metric);
        if (list === undefined) byName.set(metric, [{ labels, value }]);
        else list.push({ labels, value });
      }
    }
    const out: CollectedMetric[] = [];
    for (const [metric, series] of byName) {
      out.push(valueView('gauge', metric, 'From stats() of a registered source', series));
    }
    return out;
  }
}

/** @internal A read-time view over plain series (sources, the registry's computed counters). */
export function valueView(
  type: 'counter' | 'gauge',
  name: string,
  help: string,
  series: ValueSeries[],
): CollectedMetric {
  return { type, name, help, series: () => series };
}
