/**
 * `@perf/monitor/hono`: request metrics middleware for Hono 4.
 *
 * @packageDocumentation
 */
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { type RequestMetricsOptions, RequestRecorder, requestClock } from './http';

export type { RequestMetricsOptions } from './http';

/** Options of {@link honoMetrics}. */
export interface HonoMetricsOptions extends RequestMetricsOptions {
  /**
   * Overrides the route label. By default it is the path of the route that answered (`routePath(c)` from
   * `hono/route`, e.g. `/users/:id`, sub-app prefix included), and `unmatchedRoute` when no handler after
   * this middleware ran or only a wildcard middleware answered with a 404.
   */
  route?: (c: Context) => string | undefined;
}

/**
 * Hono middleware recording every request with its route template, method, status and duration. Register
 * it before the routes with `app.use('*', honoMetrics())`.
 *
 * Note: `hono` is imported at run time (`hono/route`), so this entry point needs Hono ≥ 4.8 installed.
 *
 * @example
 * import { Hono } from 'hono';
 * import { honoMetrics } from '@perf/monitor/hono';
 *
 * const app = new Hono();
 * app.use('*', honoMetrics());
 * app.get('/users/:id', (c) => c.json({ id: c.req.param('id') })); // recorded as /users/:id
 *
 * @throws {TypeError} when an option has the wrong type.
 */
export function honoMetrics(options: HonoMetricsOptions = {}): MiddlewareHandler {
  const custom = options.route;
  if (custom !== undefined && typeof custom !== 'function') {
    throw new TypeError(`honoMetrics: route must be a function, received ${String(custom)}`);
  }
  const recorder = new RequestRecorder('honoMetrics', options);
  return async function perfMonitorHono(c, next) {
    const started = requestClock();
    const ownIndex = c.req.routeIndex;
    try {
      await next();
    } finally {
      // Hono turns handler errors into responses; `finally` still records if an error escapes.
      let template: string | undefined;
      try {
        template = custom ? custom(c) : honoRoute(c, ownIndex);
      } catch {
        template = undefined;
      }
      recorder.record(c.req.method, template, c.res.status, requestClock() - started);
    }
  };
}

/** The template of the route that answered, `undefined` when none did. */
function honoRoute(c: Context, ownIndex: number): string | undefined {
  // Hono leaves `routeIndex` on the last handler it dispatched; if that is still us, nothing matched.
  if (c.req.routeIndex === ownIndex) return undefined;
  const path = routePath(c);
  if (c.res.status === 404 && path.endsWith('*')) return undefined;
  return path;
}
