import { startPostgres, type TestPostgres } from '@perf/testing';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advisoryLockId, describeAdvisoryKey, releaseChannel } from '../src/index';

// The derivation of string keys is a wire format: services deployed with different versions must map the
// same name to the same lock. These values are frozen; a change here is a breaking change.
const PINNED: Array<[name: string, namespace: string | undefined, id: bigint]> = [
  ['orders', undefined, -4919242765610885706n],
  ['orders', 'billing', 2532131238985205708n],
  ['nightly-report', undefined, 7367787169438075580n],
  ['ünïcode ✓', undefined, 6430403147934806950n],
  ['a', 'b', -8524362500339035639n],
];

const SQL_DERIVATION =
  "SELECT ('x' || left(encode(sha256(convert_to($1, 'UTF8')), 'hex'), 16))::bit(64)::bigint::text AS id";

describe('advisoryLockId', () => {
  let server: TestPostgres;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ ...server.pool, max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await server.stop();
  });

  it('maps names to the pinned ids (first 8 bytes of SHA-256 of "namespace:name", signed big-endian)', () => {
    for (const [name, namespace, id] of PINNED) expect(advisoryLockId(name, namespace)).toBe(id);
  });

  it('agrees with the same derivation computed by PostgreSQL', async () => {
    for (const [name, namespace, id] of PINNED) {
      const { rows } = await pool.query(SQL_DERIVATION, [`${namespace ?? 'perf'}:${name}`]);
      expect(BigInt(rows[0].id)).toBe(id);
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), async (name) => {
        const { rows } = await pool.query(SQL_DERIVATION, [`perf:${name}`]);
        expect(advisoryLockId(name)).toBe(BigInt(rows[0].id));
      }),
      { numRuns: 50 },
    );
  });

  it('passes integers through and keeps every id within int64', () => {
    expect(advisoryLockId(42)).toBe(42n);
    expect(advisoryLockId(-7)).toBe(-7n);
    expect(advisoryLockId(Number.MAX_SAFE_INTEGER)).toBe(BigInt(Number.MAX_SAFE_INTEGER));
    expect(advisoryLockId(2n ** 63n - 1n)).toBe(2n ** 63n - 1n);
    expect(advisoryLockId(-(2n ** 63n))).toBe(-(2n ** 63n));
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (name, ns) => {
        const id = advisoryLockId(name, ns);
        expect(id >= -(2n ** 63n) && id < 2n ** 63n).toBe(true);
        expect(advisoryLockId(name, ns)).toBe(id);
      }),
    );
  });

  it('rejects invalid keys with errors that say what was received', () => {
    expect(() => advisoryLockId(1.5)).toThrow(/safe integer.*received 1\.5/);
    expect(() => advisoryLockId(Number.NaN)).toThrow(TypeError);
    expect(() => advisoryLockId(Number.POSITIVE_INFINITY)).toThrow(/received Infinity/);
    expect(() => advisoryLockId(2 ** 60)).toThrow(/use a bigint/);
    expect(() => advisoryLockId(2n ** 63n)).toThrow(RangeError);
    expect(() => advisoryLockId(-(2n ** 63n) - 1n)).toThrow(/signed 64-bit/);
    expect(() => advisoryLockId('')).toThrow(/non-empty string/);
    expect(() => advisoryLockId('x', '')).toThrow(/namespace/);
    expect(() => advisoryLockId(null as never)).toThrow(/received null/);
    expect(() => advisoryLockId({} as never)).toThrow(/received an object/);
  });

  it('describes keys and derives quoted-safe release channels', () => {
    expect(describeAdvisoryKey(42)).toBe('pg:42');
    expect(describeAdvisoryKey('orders')).toBe('pg:perf:orders');
    expect(describeAdvisoryKey('orders', 'billing')).toBe('pg:billing:orders');
    expect(releaseChannel(42n)).toBe('perf_lock_42');
    expect(releaseChannel(-(2n ** 63n))).toBe('perf_lock_n9223372036854775808');
    expect(releaseChannel(-(2n ** 63n)).length).toBeLessThanOrEqual(63);
  });
});
