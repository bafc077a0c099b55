import type { PooledItem } from '../lease';

/**
 * The idle resources of a ResourcePool, as a stack: loans take the most recently used (warm) one, so the
 * bottom holds the oldest idle resource and eviction only looks at the front, stopping at the first one
 * still fresh. One unref'ed timer, armed for the moment the oldest one expires, does all the evicting.
 */
export class IdleStack<T> {
  readonly items: PooledItem<T>[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly idleTimeoutMs: number,
    /** How many resources may go now without taking the pool below `min`. */
    private readonly evictable: () => number,
    /** Receives the expired resources, oldest first, to destroy them. */
    private readonly onEvict: (items: PooledItem<T>[]) => void,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /** Puts a resource on top, idle from now. */
  push(item: PooledItem<T>): void {
    item.idleSince = performance.now();
    this.items.push(item);
    if (this.timer === undefined && this.idleTimeoutMs !== Number.POSITIVE_INFINITY) this.arm();
  }

  /** The most recently used idle resource. */
  pop(): PooledItem<T> | undefined {
    return this.items.pop();
  }

  /** Removes and returns every idle resource. */
  takeAll(): PooledItem<T>[] {
    return this.items.splice(0, this.items.length);
  }

  /** Clears the eviction timer (it is armed again by the next `push`). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const oldest = this.items[0];
    if (oldest === undefined || this.evictable() <= 0) return;
    const delay = Math.max(0, oldest.idleSince + this.idleTimeoutMs - performance.now());
    this.timer = setTimeout(this.evict, delay);
    this.timer.unref?.();
  }

  private readonly evict = (): void => {
    this.timer = undefined;
    const now = performance.now();
    const limit = Math.min(this.items.length, this.evictable());
    let k = 0;
    while (k < limit && this.items[k]!.idleSince + this.idleTimeoutMs <= now) k++;
    if (k > 0) this.onEvict(this.items.splice(0, k));
    this.arm();
  };
}
