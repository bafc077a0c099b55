/**
 * What a {@link Permit} hands its permits back to. Kept structural so that `permit.ts` does not import
 * `semaphore.ts` (no cycle), and so a test double is one method.
 * @internal
 */
export interface PermitOwner {
  /** Takes back `weight` permits and wakes whoever can go now. */
  releasePermits(weight: number): void;
}

/**
 * Permits held from a {@link Semaphore}: give them back with {@link Permit.release} or let `using` do it.
 * Releasing is idempotent, so a `finally` and a disposal can both run without double-counting, and it
 * never throws (also not after the semaphore was closed).
 *
 * @example
 * await using permit = await semaphore.acquire({ timeoutMs: 1000 });
 * await callTheDatabase();
 * // released here, also when callTheDatabase() throws
 */
export class Permit implements Disposable, AsyncDisposable {
  /** Permits this holds (the `weight` it was acquired with). */
  readonly weight: number;
  // `undefined` once released: the one field that makes release idempotent.
  private owner: PermitOwner | undefined;

  /** @internal Permits are created by {@link Semaphore}; user code receives them from `acquire()`. */
  constructor(owner: PermitOwner, weight: number) {
    this.owner = owner;
    this.weight = weight;
  }

  /** True once {@link Permit.release} ran (or the permit was disposed). */
  get released(): boolean {
    return this.owner === undefined;
  }

  /**
   * Gives the permits back. The first call releases; later calls do nothing and never throw.
   * @returns true when this call released the permits, false when they were already released.
   */
  release(): boolean {
    const owner = this.owner;
    if (owner === undefined) return false;
    this.owner = undefined;
    owner.releasePermits(this.weight);
    return true;
  }

  /** Releases the permits (for `using permit = ...`). */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Releases the permits (for `await using permit = ...`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}
