/**
 * Option validation shared by every primitive: bad options throw a TypeError (wrong type) or RangeError
 * (out of range) that names the option and the value received, before any state changes.
 */

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  return String(value);
}

/** Checks a number option. `integer` also rejects fractions; `allowInfinity` permits `Infinity`. */
export function checkNumber(
  owner: string,
  name: string,
  value: unknown,
  {
    min = Number.NEGATIVE_INFINITY,
    integer = false,
    allowInfinity = false,
  }: { min?: number; integer?: boolean; allowInfinity?: boolean } = {},
): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${owner}: ${name} must be a number, received ${show(value)}`);
  }
  if (value === Number.POSITIVE_INFINITY && allowInfinity) return value;
  if (!Number.isFinite(value))
    throw new RangeError(`${owner}: ${name} must be finite, received ${show(value)}`);
  if (integer && !Number.isInteger(value)) {
    throw new RangeError(`${owner}: ${name} must be an integer, received ${show(value)}`);
  }
  if (value < min) throw new RangeError(`${owner}: ${name} must be >= ${min}, received ${show(value)}`);
  return value;
}

/** Checks an optional function option. */
export function checkFunction(owner: string, name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`${owner}: ${name} must be a function, received ${show(value)}`);
  }
}

/** Checks `{ signal, timeoutMs }` of a wait. */
export function checkWaitOptions(
  owner: string,
  options: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
): void {
  if (options.timeoutMs !== undefined)
    checkNumber(owner, 'timeoutMs', options.timeoutMs, { min: 0, allowInfinity: true });
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError(`${owner}: signal must be an AbortSignal, received ${show(options.signal)}`);
  }
}
