/**
 * Turns a `stats()` snapshot into flat numeric leaves, the way a registered {@link MetricsSource} becomes
 * gauges: nested objects join their keys with `_`, camelCase keys become snake_case, booleans become
 * 0/1 and bigints numbers. Anything else (strings, arrays, null, non-finite numbers) is skipped.
 */

/** Options of {@link flattenStats}. */
export interface FlattenOptions {
  /**
   * Deepest nesting followed; deeper objects are skipped (also guards against cycles).
   * @default 8
   */
  maxDepth?: number;
}

/** One numeric leaf: its `_`-joined snake_case path and its value. */
export type FlatStat = [path: string, value: number];

/**
 * Flattens `stats` into `[path, value]` pairs. A nested `Histogram` (anything with `snapshot()` and
 * `percentile()`) contributes its snapshot fields, so a histogram in stats reads as
 * `..._count`, `..._p99` and so on.
 *
 * @example
 * flattenStats({ waiting: 2, inFlight: 1, open: true, acquire: { p50: 1.2, p99: 8 } });
 * // [['waiting', 2], ['in_flight', 1], ['open', 1], ['acquire_p50', 1.2], ['acquire_p99', 8]]
 */
export function flattenStats(stats: unknown, options: FlattenOptions = {}): FlatStat[] {
  const out: FlatStat[] = [];
  const maxDepth = options.maxDepth ?? 8;
  walk(stats, '', 0, maxDepth, new Set(), out);
  return out;
}

function walk(
  value: unknown,
  path: string,
  depth: number,
  maxDepth: number,
  seen: Set<object>,
  out: FlatStat[],
): void {
  switch (typeof value) {
    case 'number':
      if (Number.isFinite(value) && path !== '') out.push([path, value]);
      return;
    case 'boolean':
      if (path !== '') out.push([path, value ? 1 : 0]);
      return;
    case 'bigint':
      if (path !== '') out.push([path, Number(value)]);
      return;
    case 'object':
      break;
    default:
      return;
  }
  if (value === null || depth > maxDepth || seen.has(value)) return;
  if (Array.isArray(value) || ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set)
    return;
  if (value instanceof Date) return;
  const obj = isHistogramLike(value) ? value.snapshot() : (value as Record<string, unknown>);
  seen.add(value);
  for (const key of Object.keys(obj)) {
    const segment = snakeCase(key);
    if (segment === '') continue;
    walk(
      (obj as Record<string, unknown>)[key],
      path === '' ? segment : `${path}_${segment}`,
      depth + 1,
      maxDepth,
      seen,
      out,
    );
  }
  seen.delete(value);
}

function isHistogramLike(value: object): value is { snapshot(): object } {
  const v = value as { snapshot?: unknown; percentile?: unknown };
  return typeof v.snapshot === 'function' && typeof v.percentile === 'function';
}

const SNAKE_CACHE = new Map<string, string>();
const SNAKE_CACHE_MAX = 4096;

/** `inFlight` → `in_flight`, `HTTPErrors` → `http_errors`, other characters → `_`. Cached: keys repeat every scrape. */
export function snakeCase(key: string): string {
  let s = SNAKE_CACHE.get(key);
  if (s !== undefined) return s;
  s = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (SNAKE_CACHE.size < SNAKE_CACHE_MAX) SNAKE_CACHE.set(key, s);
  return s;
}
