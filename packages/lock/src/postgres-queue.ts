/**
 * A first-come-first-served order for `wait: 'poll'` waiters of every process, kept over the lock's
 * LISTEN/NOTIFY channel. Without it every release wakes every sleeping waiter, they all race, and a
 * random one wins: waits become geometric, with a long tail. With it:
 *
 * - a waiter that failed announces itself (`w:<waitingSince>:<id>`) in the same statement as its try,
 *   and again every {@link REANNOUNCE_MS} while it keeps failing;
 * - a waiter that got the lock says so (`t:<id>`), also in the statement of its try;
 * - on a release, each provider ranks its oldest waiter among the announced ones: rank 0 retries at
 *   once, rank `r` only after `r ×` {@link STAGGER_MS} and only if no waiter took the lock meanwhile.
 *
 * Announcements expire after {@link FRESH_MS}, so a waiter that vanished (timed out, process killed)
 * delays the others by a few stagger steps at most. The order is a hint for fairness only: exclusion
 * always comes from PostgreSQL.
 */

/** Payload prefix of an announcement; a release notifies with an empty payload. */
export const WAITING_PREFIX = 'w:';
/** Payload prefix of "this waiter took the lock". */
export const TAKEN_PREFIX = 't:';
/** How long an announcement counts. */
export const FRESH_MS = 2000;
/** How often a failing waiter re-announces itself. */
export const REANNOUNCE_MS = 500;
/**
 * A waiter behind others does not retry when its backoff delay runs out as long as a release or a
 * take was seen this recently: the line moves, and its turn comes with a release notice.
 */
export const MOVING_MS = 250;
/** Delay per rank before a later waiter retries after a release nobody was seen taking. */
export const STAGGER_MS = 5;

/** One announced waiter: ordered by `since` (epoch ms), ties broken by `id`. */
interface Announced {
  since: number;
  id: string;
  seenAt: number;
}

/** A waiter of this process. */
export interface LocalWaiter {
  readonly since: number;
  readonly id: string;
  announcedAt: number;
}

/** The announced waiters of one lock, as seen by one provider. */
export class WaiterOrder {
  private readonly announced = new Map<string, Announced>();
  /** Incremented by every `t:` message: "somebody took the lock". */
  takenEpoch = 0;
  /** `performance.now()` of the last release or take seen on the channel. */
  private movedAt = Number.NEGATIVE_INFINITY;

  /** Handles one channel payload; returns `true` for a release (empty payload). */
  onMessage(payload: string, now = performance.now()): boolean {
    if (payload.startsWith(WAITING_PREFIX)) {
      const [since, id] = payload.slice(WAITING_PREFIX.length).split(':');
      if (since && id) this.announced.set(id, { since: Number(since), id, seenAt: now });
      return false;
    }
    if (payload.startsWith(TAKEN_PREFIX)) {
      this.announced.delete(payload.slice(TAKEN_PREFIX.length));
      this.takenEpoch++;
      this.movedAt = now;
      return false;
    }
    this.movedAt = now;
    return true;
  }

  /** How many fresh announced waiters came before `waiter` (0: it is first in line). */
  rankOf(waiter: LocalWaiter, now = performance.now()): number {
    let rank = 0;
    for (const other of this.announced.values()) {
      if (now - other.seenAt > FRESH_MS) {
        this.announced.delete(other.id);
        continue;
      }
      if (other.since < waiter.since || (other.since === waiter.since && other.id < waiter.id)) rank++;
    }
    return rank;
  }

  /** True when `waiter` is not first in line and the line moved within {@link MOVING_MS}. */
  behindMovingLine(waiter: LocalWaiter, now = performance.now()): boolean {
    return now - this.movedAt < MOVING_MS && this.rankOf(waiter, now) > 0;
  }

  /** True when some waiter other than this process's announced itself recently. */
  othersWaiting(local: ReadonlyMap<unknown, LocalWaiter>, now = performance.now()): boolean {
    for (const other of this.announced.values()) {
      if (now - other.seenAt > FRESH_MS) continue;
      let mine = false;
      for (const waiter of local.values()) if (waiter.id === other.id) mine = true;
      if (!mine) return true;
    }
    return false;
  }

  /** Forgets everything (the channel connection was lost, so the picture is incomplete). */
  clear(): void {
    this.announced.clear();
    this.movedAt = Number.NEGATIVE_INFINITY;
  }
}

let sequence = 0;

/** A new local waiter, waiting since now. Ids are unique per process and random across processes. */
export function newLocalWaiter(): LocalWaiter {
  const id = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}${(sequence++).toString(36)}`;
  return { since: Date.now(), id, announcedAt: Number.NEGATIVE_INFINITY };
}
