import type { Waiter, WaiterQueue } from './waiters';

/**
 * One timer for every waiter that uses its owner's default timeout. Such waiters join the FIFO queue in
 * deadline order, so a timer armed for the oldest of them covers them all; a `setTimeout` per waiter
 * would cost as much as the rest of a ResourcePool loan. Waiters with their own `timeoutMs` keep their
 * own timers in the queue and are skipped here; they are told apart by `isShared`.
 */
export class SharedDeadline<T> {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly queue: WaiterQueue<T>,
    private readonly timeoutMs: number,
    private readonly isShared: (waiter: Waiter<T>) => boolean,
    /** Builds the error an expired waiter is rejected with. */
    private readonly timeoutError: () => Error,
    /** Told after each expired waiter left the queue. */
    private readonly onExpired: () => void,
  ) {}

  /** Call after queueing a shared-deadline waiter. */
  watch(): void {
    if (this.timer === undefined) this.arm(this.timeoutMs);
  }

  /** Clears the timer: call when no waiter is left. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(this.expire, delayMs);
    this.timer.unref?.();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    let waiter = this.queue.peek();
    while (waiter !== undefined) {
      const next = waiter.next;
      if (this.isShared(waiter)) {
        const left = waiter.enqueuedAt + this.timeoutMs - now;
        if (left > 0) {
          this.arm(left);
          return;
        }
        this.queue.remove(waiter, this.timeoutError());
        this.onExpired();
      }
      waiter = next;
    }
  };
}
