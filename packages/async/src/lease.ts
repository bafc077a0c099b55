/** What a {@link Lease} needs from the pool that lent it. @internal */
export interface LeaseOwner<T> {
  /** Takes a resource back for reuse. */
  returnItem(item: PooledItem<T>): void;
  /** Takes a resource back and destroys it. */
  discardItem(item: PooledItem<T>): Promise<void>;
}

/** A resource with its pool bookkeeping. @internal */
export interface PooledItem<T> {
  readonly resource: T;
  /** Times it was lent out. */
  uses: number;
  /** `performance.now()` when it last went idle. */
  idleSince: number;
}

/**
 * One borrowed resource of a `ResourcePool`. Give it back exactly one way: {@link Lease.release} (reuse),
 * {@link Lease.destroy} (the resource is broken: the pool destroys it and creates a fresh one when
 * needed), or let `using` / `await using` release it. Every way is idempotent: once the lease is back,
 * further calls do nothing, so a `finally { lease.release() }` after a `destroy()` is safe.
 *
 * @example
 * await using lease = await pool.acquire();
 * await lease.resource.query('SELECT 1');
 */
export class Lease<T> implements Disposable, AsyncDisposable {
  /** The borrowed resource. Do not use it after the lease went back. */
  readonly resource: T;
  private owner: LeaseOwner<T> | undefined;
  private readonly item: PooledItem<T>;

  /** @internal Leases are made by the pool. */
  constructor(owner: LeaseOwner<T>, item: PooledItem<T>) {
    this.owner = owner;
    this.item = item;
    this.resource = item.resource;
  }

  /** True once the lease was released or destroyed. */
  get released(): boolean {
    return this.owner === undefined;
  }

  /** Returns the resource to the pool for reuse. Idempotent. */
  release(): void {
    const owner = this.owner;
    if (owner === undefined) return;
    this.owner = undefined;
    owner.returnItem(this.item);
  }

  /**
   * Returns the resource and has the pool destroy it instead of reusing it (e.g. the connection broke).
   * Resolves once `destroy` finished; never rejects (destroy errors are counted in the pool's stats).
   */
  destroy(): Promise<void> {
    const owner = this.owner;
    if (owner === undefined) return Promise.resolve();
    this.owner = undefined;
    return owner.discardItem(this.item);
  }

  /** Same as {@link Lease.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Same as {@link Lease.release}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}
