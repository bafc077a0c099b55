/**
 * The set of a provider's pending acquisitions and held handles, on the path every acquire and release
 * takes. A V8 `Set` of objects that are added once and deleted soon after pays for hashing each new
 * object and for rehashing its table as deleted entries pile up: on the uncontended PostgreSQL path two
 * such sets cost about 1.5 µs per acquire+release, half of this package's own CPU time there (measured
 * with answers served in-process, where only our code runs). An intrusive doubly-linked list does the same
 * in O(1) without hashing or allocation: each member carries its own links.
 */

/** A member of a {@link LinkedSet}: the two links it carries for it. @internal */
export interface Linked<T> {
  /** @internal */ linkPrev: T | undefined;
  /** @internal */ linkNext: T | undefined;
  /** @internal The set this member is in, if any (a member is in at most one set). */
  linkOwner: object | undefined;
}

/** An insertion-ordered set of {@link Linked} members with O(1) add and delete. @internal */
export class LinkedSet<T extends Linked<T>> {
  /** Members in the set. */
  size = 0;
  private head: T | undefined;
  private tail: T | undefined;

  /** Adds `item` at the end; does nothing when it is already a member. */
  add(item: T): void {
    if (item.linkOwner === this) return;
    item.linkOwner = this;
    item.linkPrev = this.tail;
    item.linkNext = undefined;
    if (this.tail) this.tail.linkNext = item;
    else this.head = item;
    this.tail = item;
    this.size++;
  }

  /** Removes `item`; false when it was not a member. */
  delete(item: T): boolean {
    if (item.linkOwner !== this) return false;
    const { linkPrev: prev, linkNext: next } = item;
    if (prev) prev.linkNext = next;
    else this.head = next;
    if (next) next.linkPrev = prev;
    else this.tail = prev;
    item.linkOwner = undefined;
    item.linkPrev = undefined;
    item.linkNext = undefined;
    this.size--;
    return true;
  }

  /** True when `item` is a member. */
  has(item: T): boolean {
    return item.linkOwner === this;
  }

  /**
   * The members in insertion order, as a snapshot taken at the call (for the rare paths: health checks,
   * close), so that members deleted or added while the caller walks it cannot break the walk.
   */
  values(): T[] {
    const out: T[] = [];
    for (let item = this.head; item !== undefined; item = item.linkNext) out.push(item);
    return out;
  }
}
