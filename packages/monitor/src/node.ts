/**
 * `@perf/monitor/node`: request metrics for a plain `node:http` (or `node:https`) handler.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CLIENT_CLOSED_STATUS, type RequestMetricsOptions, RequestRecorder, requestClock } from './http';

export { CLIENT_CLOSED_STATUS, methodLabel, type RequestMetricsOptions } from './http';

/** Options of {@link withRequestMetrics}. */
export interface NodeRequestMetricsOptions<Req extends IncomingMessage = IncomingMessage>
  extends RequestMetricsOptions {
  /**
   * Returns the route template of a request (e.g. `/users/:id`), or `undefined` when it matched no route.
   * Called once the response has closed, so it may read whatever the handler stored on the request.
   * Plain `node:http` has no router, so without this function every request is labelled `unmatchedRoute`:
   * the raw URL is never used, because it would create one series per distinct URL.
   */
  route?: (req: Req) => string | undefined;
}

/**
 * Wraps a `node:http` request handler so that every request is recorded by
 * {@link PerformanceMonitor.trackRequest}: method, route template, status and duration (from the call of
 * the handler to the response's `close`). A response whose client disconnected first is recorded with
 * status {@link CLIENT_CLOSED_STATUS} (499).
 *
 * @example
 * import { createServer } from 'node:http';
 * import { withRequestMetrics } from '@perf/monitor/node';
 *
 * const server = createServer(
 *   withRequestMetrics((req, res) => res.end('ok'), {
 *     route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined),
 *   }),
 * );
 *
 * @throws {TypeError} when `handler` is not a function or an option has the wrong type.
 */
export function withRequestMetrics<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
>(
  handler: (req: Req, res: Res) => unknown,
  options: NodeRequestMetricsOptions<Req> = {},
): (req: Req, res: Res) => unknown {
  if (typeof handler !== 'function') {
    throw new TypeError(`withRequestMetrics: handler must be a function, received ${String(handler)}`);
  }
  const route = options.route;
  if (route !== undefined && typeof route !== 'function') {
    throw new TypeError(`withRequestMetrics: route must be a function, received ${String(route)}`);
  }
  const recorder = new RequestRecorder('withRequestMetrics', options);
  return function monitoredHandler(this: unknown, req: Req, res: Res) {
    const started = requestClock();
    // 'close' fires once per response, finished or aborted, so one listener covers both (`on` is
    // cheaper than `once`, which wraps the listener).
    res.on('close', () => {
      let template: string | undefined;
      try {
        template = route?.(req);
      } catch {
        template = undefined;
      }
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED_STATUS;
      recorder.record(req.method, template, status, requestClock() - started);
    });
    return handler.call(this, req, res);
  };
}
