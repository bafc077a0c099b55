/**
 * `@perf/monitor/fastify`: request metrics plugin for Fastify 4 and 5.
 *
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type RequestMetricsOptions, RequestRecorder } from './http';

export type { RequestMetricsOptions } from './http';

/** Options of {@link fastifyMetrics}. */
export interface FastifyMetricsOptions extends RequestMetricsOptions {
  /**
   * Overrides the route label. By default it is `request.routeOptions.url` (the template, e.g.
   * `/users/:id`, with any register prefix), and `unmatchedRoute` for requests no route matched.
   */
  route?: (request: FastifyRequest) => string | undefined;
}

/**
 * Fastify plugin recording every request with its route template, method, status and duration (Fastify's
 * own `reply.elapsedTime`), from one `onResponse` hook. It is not encapsulated (it sets
 * `Symbol.for('skip-override')`, as `fastify-plugin` would), so registering it once covers the whole app,
 * including routes registered before it and 404s.
 *
 * @example
 * import Fastify from 'fastify';
 * import { fastifyMetrics } from '@perf/monitor/fastify';
 *
 * const app = Fastify();
 * await app.register(fastifyMetrics, { monitor });
 * app.get('/users/:id', async (req) => ({ id: (req.params as { id: string }).id }));
 *
 * @throws {TypeError} (through `register`) when an option has the wrong type.
 */
export function fastifyMetrics(
  fastify: FastifyInstance,
  options: FastifyMetricsOptions,
  done: (err?: Error) => void,
): void {
  const custom = options?.route;
  if (custom !== undefined && typeof custom !== 'function') {
    done(new TypeError(`fastifyMetrics: route must be a function, received ${String(custom)}`));
    return;
  }
  let recorder: RequestRecorder;
  try {
    recorder = new RequestRecorder('fastifyMetrics', options ?? {});
  } catch (error) {
    done(error as Error);
    return;
  }
  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, next: () => void) => {
    let template: string | undefined;
    try {
      template = custom ? custom(request) : request.routeOptions.url;
    } catch {
      template = undefined;
    }
    recorder.record(request.method, template, reply.statusCode, reply.elapsedTime);
    next();
  });
  done();
}

// Applies the hook to the root instance rather than a child context (what `fastify-plugin` does).
Object.assign(fastifyMetrics, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@perf/monitor',
});
