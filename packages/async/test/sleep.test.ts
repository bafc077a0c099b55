import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleep } from '../src/index';

afterEach(() => {
  vi.useRealTimers();
});

describe('sleep', () => {
  it('resolves after ms and not before', async () => {
    vi.useFakeTimers();
    let done = false;
    const slept = sleep(100).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(99);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
  });

  it('rejects with signal.reason on abort and clears its timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const slept = sleep(1000, { signal: controller.signal });
    expect(vi.getTimerCount()).toBe(1);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(slept).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once for an already aborted signal, without a timer', async () => {
    vi.useFakeTimers();
    await expect(sleep(10, { signal: AbortSignal.abort('gone') })).rejects.toBe('gone');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects negative and NaN durations with a RangeError', async () => {
    await expect(sleep(-1)).rejects.toThrow(/ms must be >= 0, received -1/);
    await expect(sleep(Number.NaN)).rejects.toBeInstanceOf(RangeError);
  });

  it('keeps the process alive unless unref is set', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const kept = sleep(20);
    expect(timers()).toBe(before + 1);
    const unrefd = sleep(20, { unref: true });
    expect(timers()).toBe(before + 1);
    await Promise.all([kept, unrefd]);
  });
});
