/**
 * `@perf/monitor/express`: request metrics middleware for Express 4 and 5.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CLIENT_CLOSED_STATUS, type RequestMetricsOptions, RequestRecorder, requestClock } from './http';

export { CLIENT_CLOSED_STATUS, type RequestMetricsOptions } from './http';

/** The parts of an Express request this middleware reads (structural, so `@types/express` is optional). */
export interface ExpressRequestLike extends IncomingMessage {
  /** Set by Express to the matched route; its `path` is the template, e.g. `/users/:id`. */
  route?: { path?: unknown } | undefined;
  /** Mount path of the router that handled the request, e.g. `/api`. */
  baseUrl?: string;
}

/** Options of {@link expressMetrics}. */
export interface ExpressMetricsOptions extends RequestMetricsOptions {
  /**
   * Overrides the route label. By default it is `req.baseUrl + req.route.path` (e.g. `/api` +
   * `/users/:id`), and `unmatchedRoute` when no route handled the request. Note that `baseUrl` is the
   * *matched* mount path: a router mounted with parameters (`app.use('/orgs/:org', r)`) yields concrete
   * values there; give this function to label such routes yourself.
   */
  route?: (req: ExpressRequestLike) => string | undefined;
}

/**
 * Express middleware recording every request with its route template, method, status and duration. Mount
 * it first (`app.use(expressMetrics())`) so it sees every request, including 404s, which are labelled
 * `unmatched` rather than by URL.
 *
 * @example
 * import express from 'express';
 * import { expressMetrics } from '@perf/monitor/express';
 *
 * const app = express();
 * app.use(expressMetrics());
 * app.get('/users/:id', (req, res) => res.json({ id: req.params.id })); // recorded as /users/:id
 *
 * @throws {TypeError} when an option has the wrong type.
 */
export function expressMetrics(
  options: ExpressMetricsOptions = {},
): (req: ExpressRequestLike, res: ServerResponse, next: (err?: unknown) => void) => void {
  const custom = options.route;
  if (custom !== undefined && typeof custom !== 'function') {
    throw new TypeError(`expressMetrics: route must be a function, received ${String(custom)}`);
  }
  const recorder = new RequestRecorder('expressMetrics', options);
  return function perfMonitorExpress(req, res, next) {
    const started = requestClock();
    res.on('close', () => {
      let template: string | undefined;
      try {
        template = custom ? custom(req) : expressRoute(req);
      } catch {
        template = undefined;
      }
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED_STATUS;
      recorder.record(req.method, template, status, requestClock() - started);
    });
    next();
  };
}

/** `baseUrl + route.path` of a request Express routed, `undefined` when no route matched. */
function expressRoute(req: ExpressRequestLike): string | undefined {
  const path = req.route?.path;
  if (path === undefined) return undefined;
  // Regex and array routes have no string template; their source text is still bounded by the code.
  const template = typeof path === 'string' ? path : String(path);
  const base = req.baseUrl ?? '';
  return base === '' ? template : template === '/' ? base : base + template;
}
