/**
 * The request-recording core shared by the HTTP middlewares (`@perf/monitor/node`, `/express`, `/fastify`,
 * `/hono`): which monitor, which route label, which method and status labels.
 *
 * Why route templates: a label value becomes one time series in the registry and in every database
 * downstream. `/users/123`, `/users/124`, ... would create a series per user (and a scanner probing random
 * URLs a series per probe), so requests are labelled with the route *template* the framework matched
 * (`/users/:id`), and requests no route matched (404s, scanners) share one fixed label, `unmatched`.
 */
import { getPerformanceMonitor, type PerformanceMonitor } from './monitor';

/** Options every HTTP middleware of this package takes. */
export interface RequestMetricsOptions {
  /** Monitor that records the requests. @default getPerformanceMonitor() (resolved on the first request) */
  monitor?: PerformanceMonitor;
  /**
   * Route label of requests that matched no route (404s, scanners), so that unknown URLs cannot create a
   * series each.
   * @default 'unmatched'
   */
  unmatchedRoute?: string;
  /** Requests for which this returns `true` are not recorded (e.g. the `/metrics` scrape itself). */
  skip?: (method: string, route: string) => boolean;
}

/**
 * Status recorded for a request whose client went away before the response was finished: nginx's
 * "client closed request". Its duration is the time until the connection closed.
 */
export const CLIENT_CLOSED_STATUS = 499;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);

/**
 * The method label: the standard methods as sent, anything else (clients may send any token) as `OTHER`,
 * so the method cannot be used to create series either.
 */
export function methodLabel(method: string | undefined): string {
  if (method === undefined) return 'OTHER';
  if (METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  return METHODS.has(upper) ? upper : 'OTHER';
}

/**
 * Records requests for one middleware instance: resolves the monitor once, labels unmatched routes, skips
 * what `skip` says, and hands the rest to {@link PerformanceMonitor.trackRequest}. Never throws: a
 * middleware must not fail a request because of metrics.
 */
export class RequestRecorder {
  private monitor: PerformanceMonitor | undefined;
  /** The label used for requests that matched no route. */
  readonly unmatchedRoute: string;
  private readonly skip: ((method: string, route: string) => boolean) | undefined;

  /** @throws {TypeError} when an option has the wrong type. */
  constructor(owner: string, options: RequestMetricsOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`${owner}: options must be an object, received ${String(options)}`);
    }
    const unmatched = options.unmatchedRoute ?? 'unmatched';
    if (typeof unmatched !== 'string' || unmatched === '') {
      throw new TypeError(
        `${owner}: unmatchedRoute must be a non-empty string, received ${String(unmatched)}`,
      );
    }
    if (options.skip !== undefined && typeof options.skip !== 'function') {
      throw new TypeError(`${owner}: skip must be a function, received ${String(options.skip)}`);
    }
    this.monitor = options.monitor;
    this.unmatchedRoute = unmatched;
    this.skip = options.skip;
  }

  /**
   * Records one finished request. `route` is the matched template, or `undefined`/empty when no route
   * matched. Returns whether it was recorded.
   */
  record(method: string | undefined, route: string | undefined, status: number, durationMs: number): boolean {
    const m = methodLabel(method);
    const r = route === undefined || route === '' ? this.unmatchedRoute : route;
    try {
      if (this.skip?.(m, r)) return false;
      this.monitor ??= getPerformanceMonitor();
      return this.monitor.trackRequest(r, m, status, durationMs);
    } catch {
      // A throwing `skip` or a closed registry must not turn into a failed response.
      return false;
    }
  }
}
