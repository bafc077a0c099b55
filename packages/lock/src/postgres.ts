import type { Pool, PoolClient, PoolConfig } from 'pg';
import { type AttemptContext, type BaseLockOptions, BaseLockProvider, type Lease } from './base';
import { LockLostError } from './errors';
import type { Handle } from './handle';
import { type AdvisoryLockKey, advisoryLockId, describeAdvisoryKey, releaseChannel } from './keys';
import { checkMode, type LockMode } from './memory';
import { ControlConnection, checkout, clientConfigOf, isPool, loadPg, sqlState } from './postgres-connection';
import { FencingTable, type FencingTableOptions } from './postgres-fencing';
import { ReleaseListener } from './postgres-listener';
import {
  type LocalWaiter,
  newLocalWaiter,
  REANNOUNCE_MS,
  STAGGER_MS,
  TAKEN_PREFIX,
  WAITING_PREFIX,
  WaiterOrder,
} from './postgres-queue';

/** How a PostgreSQL waiter waits. */
export type PostgresWaitMode = 'block' | 'poll';

/** Options for {@link PostgresLockProvider}. */
export interface PostgresLockOptions extends BaseLockOptions {
  /** The lock: an int64 (`number`/`bigint`) or a name hashed to one (see `advisoryLockId`). */
  key: AdvisoryLockKey;
  /** Namespace of a string `key` (hashed as `namespace:key`). @default 'perf' */
  namespace?: string;
  /** `exclusive` (`pg_advisory_lock`) or `shared` (`pg_advisory_lock_shared`). @default 'exclusive' */
  mode?: LockMode;
  /**
   * `block`: after one failed try, wait inside PostgreSQL (`pg_advisory_lock` under `lock_timeout` =
   * the time left); the server queues waiters and hands the lock over in one round trip, but each waiter
   * holds a connection. `poll`: `pg_try_advisory_lock` + backoff, no connection held while sleeping,
   * woken early by NOTIFY on release. @default 'block'
   */
  wait?: PostgresWaitMode;
  /**
   * Send `pg_notify` on the key's channel at every release so `poll` waiters (of any process) wake at
   * once. @default true for `wait: 'poll'`, false for `'block'` (set it when poll and block providers share a key)
   */
  notify?: boolean;
  /**
   * Probe the holding session with `SELECT 1` this often; a failed or slow probe aborts `handle.signal`
   * with `LockLostError`. Session `error`/`end` events are caught at once regardless. `0` disables probes.
   * @default 5000
   */
  healthCheckIntervalMs?: number;
  /** How long a probe may take before the session counts as dead. @default min(healthCheckIntervalMs, 2000) */
  healthCheckTimeoutMs?: number;
  /**
   * Hand out fencing tokens from a table (created on first use); `true` uses `perf_lock_fencing` on the
   * `search_path`. @default false
   */
  fencing?: boolean | FencingTableOptions;
}

/** Per-lock data: the pinned session and what watches it. */
export interface PgLease {
  /** The pool client that holds the lock; nobody else uses it until release. */
  readonly client: PoolClient;
  /** The session's `lock_timeout` before a blocking wait changed it; put back by the unlock statement. */
  restoreTimeout: string | undefined;
  /** Set once the client went back to the pool (or was destroyed). */
  returned: boolean;
  /** Why the session died before the handle existed. */
  failure: { reason: string; cause?: unknown } | undefined;
  /** The handle, once granted: session events and health checks report loss through it. */
  handle: Handle<PgLease> | undefined;
  /** True while a health-check probe of this session is in flight. */
  probing: boolean;
}

/**
 * A PostgreSQL session-level advisory lock with backoff, wake-on-release, fencing tokens and a lost-lock
 * signal (the seed's `OptimizedPostgresLockProvider`).
 *
 * The session that holds the lock is pinned: a client checked out of the pool for the lock's lifetime
 * and returned at release. The unlock's boolean result is checked; a session that errored is destroyed,
 * never returned. Session locks need a real session: behind PgBouncer in transaction pooling mode use
 * {@link withTransactionLock} instead.
 *
 * @example
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const lock = new PostgresLockProvider(pool, { key: 'nightly-report', fencing: true });
 * await using handle = await lock.acquire({ timeoutMs: 5000 });
 * await runReport({ signal: handle.signal, fencingToken: handle.fencingToken });
 *
 * @throws {TypeError | RangeError} for an invalid key, mode, wait mode, interval or backoff option.
 */
export class PostgresLockProvider extends BaseLockProvider<PgLease> {
  /** The int64 passed to the advisory-lock functions. */
  readonly lockId: bigint;
  /** `exclusive` or `shared`. */
  readonly mode: LockMode;
  /** `block` or `poll`. */
  readonly wait: PostgresWaitMode;
  private readonly source: Pool | PoolConfig | string;
  /** The pool passed in, if one was: used without an extra await on every attempt. */
  private readonly givenPool: Pool | undefined;
  private ownPool: Promise<Pool> | undefined;
  /** Side connection for `pg_cancel_backend` (opened only when a blocking wait is aborted). */
  private readonly control: ControlConnection;
  /** The release channel's LISTEN, shared with the other providers of the same pool and key. */
  private readonly listener: ReleaseListener;
  private readonly fencing: FencingTable | undefined;
  private readonly healthIntervalMs: number;
  private readonly healthTimeoutMs: number;
  private readonly sql: {
    try: string;
    tryNotify: (taken: string, waiting: string) => string;
    unlock: string;
    block: (lockTimeout: string | undefined) => string;
  };
  private readonly channel: string;
  /** Poll waiters announce themselves and are served first-come-first-served (see postgres-queue.ts). */
  private readonly announce: boolean;
  private readonly order = new WaiterOrder();
  /** Waiters of this provider that failed at least once, by the signal of their acquisition. */
  private readonly localWaiters = new Map<AbortSignal, LocalWaiter>();
  private staggerTimer: ReturnType<typeof setTimeout> | undefined;
  /** Block mode: the last acquisition found the lock taken (see tryOnce). */
  private contendedLately = false;
  private healthTimer: ReturnType<typeof setInterval> | undefined;

  constructor(pool: Pool | PoolConfig | string, options: PostgresLockOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(
        `PostgresLockProvider: options with a key are required, received ${String(options)}`,
      );
    }
    const lockId = advisoryLockId(options.key, options.namespace);
    super(describeAdvisoryKey(options.key, options.namespace), options, 'PostgresLockProvider');
    if (typeof pool !== 'string' && (pool === null || typeof pool !== 'object')) {
      throw new TypeError(
        `PostgresLockProvider: expected a pg.Pool, a pool config or a URL, received ${String(pool)}`,
      );
    }
    if (!isPool(pool) && typeof (pool as { connect?: unknown }).connect === 'function') {
      throw new TypeError(
        'PostgresLockProvider: pass a pg.Pool (or its config), not a pg.Client: the lock pins pool clients',
      );
    }
    this.source = pool;
    this.givenPool = isPool(pool) ? pool : undefined;
    this.lockId = lockId;
    this.mode = checkMode('PostgresLockProvider', options.mode);
    this.wakeAll = this.mode === 'shared';
    const wait = options.wait ?? 'block';
    if (wait !== 'block' && wait !== 'poll') {
      throw new TypeError(`PostgresLockProvider: wait must be 'block' or 'poll', received ${String(wait)}`);
    }
    this.wait = wait;
    this.healthIntervalMs = checkMs('healthCheckIntervalMs', options.healthCheckIntervalMs ?? 5000);
    this.healthTimeoutMs = checkMs(
      'healthCheckTimeoutMs',
      options.healthCheckTimeoutMs ?? Math.min(this.healthIntervalMs || 2000, 2000),
    );
    this.fencing = options.fencing
      ? new FencingTable(options.fencing === true ? {} : options.fencing)
      : undefined;
    const channel = releaseChannel(lockId);
    this.channel = channel;
    const config = async () => clientConfigOf(this.source);
    this.control = new ControlConnection(config, channel, noop, noop);
    this.listener = new ReleaseListener(this.givenPool, channel, config, {
      onNotify: (payload) => {
        if (this.order.onMessage(payload)) this.onReleaseNotice();
      },
      onDown: () => {
        this.order.clear();
        this.wake(true);
      },
    });
    const fn = this.mode === 'shared' ? '_shared' : '';
    const notifying = options.notify ?? wait === 'poll';
    const notify = notifying ? `, pg_notify('${channel}', '')` : '';
    this.announce = notifying && wait === 'poll';
    this.sql = {
      try: `SELECT pg_try_advisory_lock${fn}(${lockId}) AS ok`,
      // A poll waiter tells the others, in the same round trip as its try, that it waits or that it took
      // the lock. OFFSET 0 keeps the try in a subquery evaluated once, before the CASE.
      tryNotify: (taken, waiting) =>
        `SELECT ok, CASE WHEN ok THEN ${taken} ELSE ${waiting} END AS notified ` +
        `FROM (SELECT pg_try_advisory_lock${fn}(${lockId}) AS ok OFFSET 0) attempt`,
      // The statement that may wait (after a failed plain try, or alone while contended). CASE evaluates
      // in order: try first; only when that fails, bound the wait with lock_timeout and block. The old value is read first and put back
      // by the unlock; if the wait fails, the statement's implicit transaction rolls the setting back.
      block: (lockTimeout) =>
        lockTimeout === undefined
          ? // No deadline: the session's own lock_timeout (normally none) applies; if it fires, the loop retries.
            `SELECT CASE WHEN pg_try_advisory_lock${fn}(${lockId}) THEN false ` +
            `ELSE pg_advisory_lock${fn}(${lockId})::text = '' END AS waited`
          : `SELECT current_setting('lock_timeout') AS prev, CASE WHEN pg_try_advisory_lock${fn}(${lockId}) THEN false ` +
            `WHEN set_config('lock_timeout', '${lockTimeout}', false) IS NULL THEN NULL ` +
            `ELSE pg_advisory_lock${fn}(${lockId})::text = '' END AS waited`,
      unlock: `SELECT pg_advisory_unlock${fn}(${lockId}) AS ok${notify}`,
    };
  }

  protected override async tryOnce(ctx: AttemptContext): Promise<Lease<PgLease> | undefined> {
    const pool = this.givenPool ?? (await this.pool());
    const lease = pin(await checkout(pool, ctx));
    try {
      let acquired = false;
      let contended = false;
      if (this.wait === 'block' && ctx.remainingMs > 0) {
        // While the lock was free last time, try with the plain statement (the least server work) and
        // only on failure send the one that waits; while it is contended, go straight to the latter.
        // Either way the hand-off after a release costs one round trip.
        const plain = !this.contendedLately;
        if (plain) acquired = (await lease.client.query<{ ok: boolean }>(this.sql.try)).rows[0]?.ok === true;
        if (!acquired) {
          const result = await this.blockingLock(lease, ctx);
          acquired = result !== undefined;
          contended = plain || (result?.waited ?? true);
          if (result?.waited) lease.restoreTimeout = result.prev;
        }
        this.contendedLately = contended;
      } else {
        const { sql, waiter } = this.tryStatement(ctx);
        acquired = (await lease.client.query<{ ok: boolean }>(sql)).rows[0]?.ok === true;
        if (!acquired && waiter && !this.localWaiters.has(ctx.signal))
          this.localWaiters.set(ctx.signal, waiter);
      }
      if (!acquired) {
        unpin(lease, undefined);
        return undefined;
      }
      const fencingToken = this.fencing ? await this.fencing.next(lease.client, this.lockId) : undefined;
      return { state: lease, fencingToken, contended };
    } catch (error) {
      // Whether this session holds the lock is unknown now: end it, and PostgreSQL frees whatever it held.
      unpin(lease, error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  protected override onGranted(handle: Handle<PgLease>): void {
    const lease = handle.state;
    lease.handle = handle;
    if (lease.failure) {
      handle.lose(lease.failure.reason, lease.failure.cause);
      return;
    }
    if (this.healthIntervalMs > 0 && !this.healthTimer) {
      // One provider-wide timer probes every held session: starting a timer per lock would cost more
      // than the lock itself on the uncontended path. It idles (unref'd) until close().
      this.healthTimer = setInterval(() => this.probeAll(), this.healthIntervalMs);
      this.healthTimer.unref?.();
    }
  }

  protected override async releaseOnce(handle: Handle<PgLease>): Promise<void> {
    const lease = handle.state;
    if (handle.lost) {
      unpin(lease, new Error('advisory lock lost'));
      return;
    }
    let ok: boolean | undefined;
    try {
      const restore = lease.restoreTimeout;
      const sql =
        restore === undefined
          ? this.sql.unlock
          : `${this.sql.unlock}, set_config('lock_timeout', '${quote(restore)}', false)`;
      const { rows } = await lease.client.query<{ ok: boolean }>(sql);
      ok = rows[0]?.ok;
    } catch (error) {
      unpin(lease, error instanceof Error ? error : new Error(String(error)));
      throw new LockLostError(this.key, 'unlock failed: the holding session is gone', { cause: error });
    }
    if (ok !== true) {
      unpin(lease, new Error('advisory unlock returned false'));
      throw new LockLostError(this.key, 'the holding session no longer held the lock at release');
    }
    unpin(lease, undefined);
  }

  /**
   * Poll mode against barging: while waiters of other providers are in line, a new acquisition waits for
   * the next release (or its first backoff delay) before trying, so a worker that releases and
   * re-acquires in a loop does not starve waiters that sleep between attempts.
   */
  protected override yieldFirst(ctx: AttemptContext): boolean {
    if (!this.announce || !this.order.othersWaiting(this.localWaiters)) return false;
    // Joins the line now, behind the announced waiters, so release notices do not wake it before them,
    // and tells the others through the listening connection (no pool client), so that waiters that come
    // later do not go before it.
    const waiter = newLocalWaiter();
    this.localWaiters.set(ctx.signal, waiter);
    waiter.announcedAt = performance.now();
    this.listener.notify(`${WAITING_PREFIX}${waiter.since}:${waiter.id}`).then((sent) => {
      if (!sent) waiter.announcedAt = Number.NEGATIVE_INFINITY;
    }, noop);
    return true;
  }

  /**
   * Poll mode: a waiter behind announced older waiters does not retry on its backoff timer while
   * releases keep coming (it would only barge in ahead of them); its turn comes with a release notice.
   */
  protected override holdBack(ctx: AttemptContext): boolean {
    if (!this.announce || this.localWaiters.size === 0 || !this.listener.isListening) return false;
    const waiter = this.localWaiters.get(ctx.signal);
    if (!waiter) return false;
    const now = performance.now();
    // An announced waiter due to re-announce itself attempts (the attempt announces it), so that its
    // announcement does not expire during a long wait.
    if (now - waiter.announcedAt >= REANNOUNCE_MS && waiter.announcedAt > Number.NEGATIVE_INFINITY)
      return false;
    return this.order.behindMovingLine(waiter, now);
  }

  protected override disarmWake(signal: AbortSignal): void {
    this.localWaiters.delete(signal);
  }

  protected override armWake(): Promise<boolean> | boolean {
    if (this.wait !== 'poll') return false;
    return this.listener.listen();
  }

  protected override async onClose(): Promise<void> {
    clearTimeout(this.staggerTimer);
    clearInterval(this.healthTimer);
    await Promise.all([this.control.close(), this.listener.close()]);
    const own = this.ownPool;
    if (own) await (await own).end();
  }

  /** Probes each held session that has no probe in flight; a failed or slow probe loses its lock. */
  private probeAll(): void {
    for (const handle of this.heldHandles()) {
      const lease = handle.state;
      if (lease.probing || lease.returned) continue;
      lease.probing = true;
      probe(lease.client, this.healthTimeoutMs)
        .catch((error: unknown) => handle.lose('health check failed: the holding session is gone', error))
        .finally(() => {
          lease.probing = false;
        });
    }
  }

  /**
   * The plain try, or in poll mode the one that also announces this waiter when it fails (first failure,
   * then every REANNOUNCE_MS) or says it took the lock when it succeeds after having waited.
   */
  private tryStatement(ctx: AttemptContext): { sql: string; waiter: LocalWaiter | undefined } {
    if (!this.announce || ctx.remainingMs <= 0) return { sql: this.sql.try, waiter: undefined };
    // The first attempt of an acquisition that did not yield is not in line yet (and needs no signal).
    const known =
      ctx.attempt === 1 && this.localWaiters.size === 0 ? undefined : this.localWaiters.get(ctx.signal);
    const waiter = known ?? newLocalWaiter();
    const now = performance.now();
    const notify = (payload: string) => `pg_notify('${this.channel}', '${payload}')`;
    const taken = known ? notify(`${TAKEN_PREFIX}${waiter.id}`) : 'NULL';
    let waiting = 'NULL';
    if (now - waiter.announcedAt >= REANNOUNCE_MS) {
      waiting = notify(`${WAITING_PREFIX}${waiter.since}:${waiter.id}`);
      waiter.announcedAt = now;
    }
    if (taken === 'NULL' && waiting === 'NULL') return { sql: this.sql.try, waiter };
    return { sql: this.sql.tryNotify(taken, waiting), waiter };
  }

  /**
   * A release was announced on the channel: the oldest local waiter retries at once when it is first in
   * line; otherwise after its rank's stagger delay, unless another waiter took the lock meanwhile.
   */
  private onReleaseNotice(): void {
    let oldest: LocalWaiter | undefined;
    for (const waiter of this.localWaiters.values())
      if (!oldest || waiter.since < oldest.since) oldest = waiter;
    const rank = oldest ? this.order.rankOf(oldest) : 0;
    if (rank === 0) {
      this.wake();
      return;
    }
    const taken = this.order.takenEpoch;
    clearTimeout(this.staggerTimer);
    this.staggerTimer = setTimeout(() => {
      if (this.order.takenEpoch === taken) this.wake();
    }, rank * STAGGER_MS);
    this.staggerTimer.unref?.();
  }

  private pool(): Promise<Pool> {
    if (isPool(this.source)) return Promise.resolve(this.source);
    this.ownPool ??= loadPg().then(
      ({ Pool }) => new Pool(clientConfigOf(this.source as PoolConfig | string)),
    );
    return this.ownPool;
  }

  /**
   * Try, then `pg_advisory_lock` bounded by `lock_timeout`, in one statement; `undefined` when the
   * timeout elapsed. An abort cancels the statement with `pg_cancel_backend` from the side connection,
   * or destroys the session when that is not possible.
   */
  private async blockingLock(
    lease: PgLease,
    ctx: AttemptContext,
  ): Promise<{ waited: boolean; prev: string | undefined } | undefined> {
    const client = lease.client;
    const pid = (client as unknown as { processID: number | null }).processID;
    const off = ctx.onAbort(() => {
      if (ctx.deadlineReached()) return; // lock_timeout ends the wait by itself
      // Without a working side connection, closing the session is the only way to end the wait now.
      if (pid) this.control.cancel(pid).catch(() => destroyWaiting(lease));
      else destroyWaiting(lease);
    });
    try {
      const { rows } = await client.query<{ prev?: string | null; waited: boolean }>(
        this.sql.block(lockTimeoutSetting(ctx.remainingMs)),
      );
      return { waited: rows[0]!.waited, prev: rows[0]!.prev ?? undefined };
    } catch (error) {
      if (sqlState(error) === '55P03') return undefined; // lock_not_available: lock_timeout elapsed
      throw error;
    } finally {
      off();
    }
  }
}

/** Watches a checked-out client: the pool does not listen for errors on clients it lent out. */
function pin(client: PoolClient): PgLease {
  const lease: PgLease = {
    client,
    restoreTimeout: undefined,
    returned: false,
    failure: undefined,
    handle: undefined,
    probing: false,
  };
  const pinned = client as Pinned;
  pinned[LEASE] = lease;
  // Shared listeners that find the lease through the client, attached once per pooled client and kept:
  // adding and removing two listeners on every acquisition cost about 6% of this package's own time on
  // the uncontended path. While the client is not pinned they do nothing (see onSessionError).
  if (!pinned[WATCHED]) {
    pinned[WATCHED] = true;
    client.on('error', onSessionError);
    client.on('end', onSessionEnd);
  }
  return lease;
}

/**
 * The lease of a pinned client, kept on the client itself (a client is pinned by at most one lease at a
 * time). A symbol property rather than a WeakMap: set, read and cleared on every acquisition, and a
 * WeakMap's hashing cost more than the property store (the property is added once per pooled client).
 */
const LEASE = Symbol('perf.lock.lease');
/** Set once our session listeners are attached to a client. */
const WATCHED = Symbol('perf.lock.watched');
type Pinned = PoolClient & { [LEASE]?: PgLease | undefined; [WATCHED]?: boolean };

function onSessionError(this: Pinned, error: Error): void {
  const lease = this[LEASE];
  if (lease) {
    lost(lease, 'the holding session failed', error);
    return;
  }
  // Not pinned by a lock: somebody else checked the client out. Our listener must not turn an error
  // nobody handles into a silent one, so when it is the only listener it fails the way an 'error' event
  // without listeners does (the pool's own listener is there while the client is idle or was destroyed).
  if (this.listenerCount('error') === 1) throw error;
}

function onSessionEnd(this: Pinned): void {
  const lease = this[LEASE];
  if (lease) lost(lease, 'the holding session ended');
}

function lost(lease: PgLease, reason: string, cause?: unknown): void {
  if (lease.handle) lease.handle.lose(reason, cause);
  else lease.failure ??= { reason, cause };
}

/** Stops watching and hands the client back; with an error the pool destroys it instead of reusing it. */
function unpin(lease: PgLease, error: Error | undefined): void {
  if (lease.returned) return;
  lease.returned = true;
  const client = lease.client as Pinned;
  if (client[LEASE] === lease) client[LEASE] = undefined;
  // A destroyed client may still report its socket error; the pool's own listener covers it afterwards.
  lease.client.release(error ?? (lease.failure ? new Error(lease.failure.reason) : undefined));
}

function destroyWaiting(lease: PgLease): void {
  unpin(lease, new Error('blocking lock wait aborted'));
}

function probe(client: PoolClient, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer to SELECT 1 within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref?.();
    client.query('SELECT 1').then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** `lock_timeout` for the time left: whole ms, at least 1 (0 would mean "no limit"); none for Infinity. */
function lockTimeoutSetting(remainingMs: number): string | undefined {
  if (remainingMs === Number.POSITIVE_INFINITY) return undefined;
  if (remainingMs > 2_147_483_647) return '0';
  return String(Math.max(1, Math.ceil(remainingMs)));
}

/** A value as the body of a single-quoted SQL literal (standard_conforming_strings is on since 9.1). */
function quote(value: string): string {
  return value.replace(/'/g, "''");
}

function checkMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`PostgresLockProvider: ${name} must be a number, received ${String(value)}`);
  }
  if (value < 0 || !Number.isFinite(value)) {
    throw new RangeError(`PostgresLockProvider: ${name} must be a finite number >= 0, received ${value}`);
  }
  return value;
}

function noop(): void {}
