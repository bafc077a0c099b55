import { describe, expect, it } from 'vitest';
import { defineSuite, reportMarkdown, runSuite, suiteText } from '../src/index';

describe('runSuite', () => {
  it('measures ours and peers, reports ops/s, latency, memory and the ratio, with progress lines', async () => {
    const lines: string[] = [];
    let calls = 0;
    const suite = defineSuite({
      name: 'unit',
      scenarios: [
        {
          name: 'spin',
          table: 'Unit table',
          opsPerCall: 100,
          timeMs: 20,
          minCalls: 5,
          fn: () => {
            calls++;
            return { samplesMs: [1, 2, 3], metrics: { hit: 0.9 } };
          },
          peers: [{ name: 'slower', opsPerCall: 100, fn: () => new Promise((r) => setTimeout(r, 1)) }],
          targets: [{ peer: 'slower', minRatio: 1 }],
        },
      ],
    });
    const result = await runSuite(suite, { quick: false, progress: (l) => lines.push(l) });
    const s = result.scenarios[0]!;
    expect(calls).toBeGreaterThanOrEqual(5 + 3);
    expect(s.ours.opsPerSec).toBeGreaterThan(s.peers[0]!.opsPerSec);
    expect(s.ours.avgMs).toBe(2);
    expect(s.ours.metrics).toEqual({ hit: 0.9 });
    expect(s.bestPeer).toBe('slower');
    expect(s.targets[0]!.met).toBe(true);
    expect(lines).toEqual(['[unit 1/1] spin · spin', '[unit 1/1] spin · slower']);
    expect(suiteText(result)).toMatch(/Test\s+\| Ops\/sec\s+\| Avg\s+\| P95/);
    expect(reportMarkdown([result])).toContain('### Unit table');
  });

  it('marks a reference peer in its result and never makes it the best peer', async () => {
    const result = await runSuite(
      defineSuite({
        name: 'unit',
        scenarios: [
          {
            name: 'ref',
            timeMs: 1,
            minCalls: 2,
            maxCalls: 2,
            fn: () => ({ ops: 500, elapsedMs: 1000 }),
            peers: [
              { name: 'lib', fn: () => ({ ops: 250, elapsedMs: 1000 }) },
              { name: 'ceiling', reference: true, fn: () => ({ ops: 1000, elapsedMs: 1000 }) },
              { name: 'broken floor', reference: true, fn: () => Promise.reject(new Error('boom')) },
            ],
          },
        ],
      }),
      { quick: false },
    );
    const s = result.scenarios[0]!;
    expect(s.peers.map((p) => p.reference ?? false)).toEqual([false, true, true]);
    expect(s.peers[2]!.error).toBe('Error: boom');
    expect(s.bestPeer).toBe('lib');
    expect(s.ratio).toBe(2);
  });

  it('uses the elapsed time a call reports instead of its own duration', async () => {
    const result = await runSuite(
      defineSuite({
        name: 'unit',
        scenarios: [
          {
            name: 'window',
            timeMs: 1,
            minCalls: 2,
            maxCalls: 2,
            fn: () => ({ ops: 500, elapsedMs: 1000 }),
            peers: [{ name: 'half', fn: () => ({ ops: 250, elapsedMs: 1000 }) }],
          },
        ],
      }),
      { quick: false },
    );
    const s = result.scenarios[0]!;
    expect(s.ours.opsPerSec).toBe(500);
    expect(s.ours.avgMs).toBe(2);
    expect(s.peers[0]!.opsPerSec).toBe(250);
  });

  it('interleaves subjects in rounds, with every subject set up before the first round', async () => {
    const events: string[] = [];
    const subject = (name: string) => ({
      name,
      setup: () => events.push(`setup ${name}`),
      fn: () => undefined,
      teardown: () => events.push(`teardown ${name}`),
    });
    const lines: string[] = [];
    const result = await runSuite(
      defineSuite({
        name: 'unit',
        scenarios: [{ ...subject('ours'), timeMs: 4, minCalls: 2, rounds: 2, peers: [subject('peer')] }],
      }),
      { quick: false, progress: (l) => lines.push(l) },
    );
    expect(events).toEqual(['setup ours', 'setup peer', 'teardown ours', 'teardown peer']);
    expect(lines.map((l) => l.split(' · ')[1])).toEqual([
      'ours (round 1/2)',
      'peer (round 1/2)',
      'ours (round 2/2)',
      'peer (round 2/2)',
    ]);
    expect(result.scenarios[0]!.ours.calls).toBeGreaterThanOrEqual(2);
    expect(result.scenarios[0]!.peers[0]!.calls).toBeGreaterThanOrEqual(2);
  });

  it('records a throwing subject as an error row instead of aborting the suite', async () => {
    const result = await runSuite(
      defineSuite({
        name: 'unit',
        scenarios: [
          {
            name: 'boom',
            timeMs: 5,
            fn: () => {
              throw new Error('nope');
            },
          },
        ],
      }),
      { progress: () => undefined },
    );
    expect(result.scenarios[0]!.ours.error).toBe('Error: nope');
  });
});
