/**
 * The seed's `monitor_performance`: a function wrapper and a TypeScript 5 method decorator that time
 * every call through a {@link PerformanceMonitor}.
 */
import { getPerformanceMonitor, type PerformanceMonitor } from './monitor';
import { runTimed, type Tags } from './scope';

/** Options of {@link monitorPerformance}. */
export interface MonitorPerformanceOptions {
  /** Monitor to record into. @default getPerformanceMonitor(), resolved at each call */
  monitor?: PerformanceMonitor;
  /** Tags of every call. */
  tags?: Tags;
}

/**
 * The seed's `monitor_performance`: times every call of a function as operation `name` (duration, and
 * errors by name when it throws or rejects). Two forms:
 *
 * - `monitorPerformance(name, fn, options?)` returns the wrapped function (sync stays sync);
 * - `monitorPerformance(name?, options?)` returns a TypeScript 5 (standard, not `experimentalDecorators`)
 *   method decorator, also callable on a plain function. The name defaults to the method's name.
 *
 * @example
 * const getUser = monitorPerformance('get_user', async (id: number) => users.get(id));
 *
 * class UserService {
 *   @monitorPerformance('api_endpoint')
 *   async getUser(id: number) { return users.get(id); }
 * }
 * @throws {TypeError} when `fn` (or the decorated value) is not a function, or the name is empty.
 */
export function monitorPerformance<F extends (...args: any[]) => any>(
  name: string,
  fn: F,
  options?: MonitorPerformanceOptions,
): F;
export function monitorPerformance(
  name?: string,
  options?: MonitorPerformanceOptions,
): <F extends (...args: any[]) => any>(target: F, context?: ClassMethodDecoratorContext) => F;
export function monitorPerformance(
  name?: string,
  fnOrOptions?: ((...args: any[]) => any) | MonitorPerformanceOptions,
  maybeOptions?: MonitorPerformanceOptions,
): unknown {
  if (name !== undefined) checkName(name);
  if (typeof fnOrOptions === 'function') return wrapTimed(name!, fnOrOptions, maybeOptions ?? {});
  const options = fnOrOptions ?? {};
  return <F extends (...args: any[]) => any>(target: F, context?: ClassMethodDecoratorContext): F => {
    if (typeof target !== 'function') {
      throw new TypeError(`monitorPerformance: can only wrap a function, received ${String(target)}`);
    }
    const resolved = name ?? (context ? String(context.name) : target.name);
    checkName(resolved);
    return wrapTimed(resolved, target, options);
  };
}

function wrapTimed<F extends (...args: any[]) => any>(
  name: string,
  fn: F,
  options: MonitorPerformanceOptions,
): F {
  if (typeof fn !== 'function')
    throw new TypeError(`monitorPerformance: fn must be a function, received ${String(fn)}`);
  const { monitor, tags } = options;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    return runTimed(monitor ?? getPerformanceMonitor(), name, tags, () => fn.apply(this, args));
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  return wrapped as F;
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`monitorPerformance: name must be a non-empty string, received ${String(name)}`);
  }
}
