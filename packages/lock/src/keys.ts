import { createHash } from 'node:crypto';

/**
 * What identifies a PostgreSQL advisory lock: a 64-bit integer (`number` within the safe-integer range,
 * or `bigint` within int64), or a name hashed to one (see {@link advisoryLockId}).
 */
export type AdvisoryLockKey = number | bigint | string;

/** The namespace of string keys when none is given. */
export const DEFAULT_LOCK_NAMESPACE = 'perf';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Maps a key to the signed 64-bit id passed to `pg_advisory_lock(bigint)`.
 *
 * - `number`: any safe integer (`Number.isSafeInteger`), used as is.
 * - `bigint`: any value in [-2^63, 2^63 - 1], used as is.
 * - `string`: the first 8 bytes of SHA-256 over the UTF-8 text `` `${namespace}:${name}` ``, read as a
 *   signed big-endian int64. This derivation is frozen: the same name maps to the same id in every
 *   version, language and process (`SELECT ('x' || left(encode(sha256('perf:orders'), 'hex'), 16))::bit(64)::bigint`
 *   computes it in SQL), so services written against it keep excluding each other.
 *
 * @example
 * advisoryLockId('orders');            // 'perf:orders' hashed → a bigint
 * advisoryLockId('orders', 'billing'); // 'billing:orders' hashed → a different bigint
 * advisoryLockId(42);                  // 42n
 * @throws {TypeError} for another type, an empty name or namespace, or a fractional/unsafe number.
 * @throws {RangeError} for a bigint outside int64.
 */
export function advisoryLockId(key: AdvisoryLockKey, namespace = DEFAULT_LOCK_NAMESPACE): bigint {
  if (typeof key === 'number') {
    if (!Number.isSafeInteger(key)) {
      throw new TypeError(
        `lock key must be a safe integer, a bigint or a non-empty string, received ${String(key)} (use a bigint for larger ids)`,
      );
    }
    return BigInt(key);
  }
  if (typeof key === 'bigint') {
    if (key < INT64_MIN || key > INT64_MAX) {
      throw new RangeError(`lock key must fit in a signed 64-bit integer, received ${key}n`);
    }
    return key;
  }
  if (typeof key === 'string') {
    if (key.length === 0) throw new TypeError('lock key must be a non-empty string, received ""');
    if (typeof namespace !== 'string' || namespace.length === 0) {
      throw new TypeError(`lock namespace must be a non-empty string, received ${JSON.stringify(namespace)}`);
    }
    return createHash('sha256').update(`${namespace}:${key}`, 'utf8').digest().readBigInt64BE(0);
  }
  throw new TypeError(`lock key must be a number, a bigint or a non-empty string, received ${describe(key)}`);
}

/** The key as shown in messages and metrics: `pg:42`, or `pg:namespace:name` for hashed names. */
export function describeAdvisoryKey(key: AdvisoryLockKey, namespace = DEFAULT_LOCK_NAMESPACE): string {
  return typeof key === 'string' ? `pg:${namespace}:${key}` : `pg:${key}`;
}

/**
 * The LISTEN/NOTIFY channel on which releases of lock `id` are announced: `perf_lock_<id>` with a
 * leading `n` for negative ids (channel names are identifiers; this one is always quoted).
 */
export function releaseChannel(id: bigint): string {
  return id < 0n ? `perf_lock_n${-id}` : `perf_lock_${id}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}
