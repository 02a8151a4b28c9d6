import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Proc } from '../helpers/processes.js';
import { PromText } from '../helpers/prom-text.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox();

interface Started {
  proc: Proc;
  id: number;
}

/**
 * Starts one metrics-peer process per env and waits until all are joined to one hub. The
 * first joins first, so it hosts the hub.
 */
async function start(envs: Record<string, string>[]): Promise<Started[]> {
  const procs = await Promise.all(
    envs.map((env) => Proc.start('metrics-peer.js', { ...box.peerEnv(), ...env })),
  );
  const first = await procs[0]!.call<number>('connect');
  const ids = [first, ...(await Promise.all(procs.slice(1).map((p) => p.call<number>('connect'))))];
  await until(
    async () => {
      const states = await Promise.all(
        procs.map((p) => p.call<{ connected: boolean; peers: number[] }>('state')),
      );
      return states.every((s) => s.connected && s.peers.length === procs.length);
    },
    undefined,
    'every process to see every other',
  );
  return procs.map((proc, i) => ({ proc, id: ids[i]! }));
}

const scrape = async (p: Proc): Promise<PromText> => new PromText(await p.call<string>('scrape'));

/** What each process records: latencies per route, its in-flight gauge and its highest value. */
const RECORDED = [
  { a: [0.05, 0.3], b: [], inFlight: 1, highest: 5, ratio: 'NaN' },
  { a: [0.7], b: [2], inFlight: 2, highest: 9, ratio: '1' },
  { a: [], b: [0.05, 0.05, 0.6], inFlight: 3, highest: 7, ratio: '2' },
];

async function record(peers: Started[]): Promise<void> {
  for (const [i, r] of RECORDED.entries()) {
    const p = peers[i]!.proc;
    for (const route of ['a', 'b'] as const) {
      await p.call('record', {
        route,
        seconds: r[route],
        inFlight: r.inFlight,
        highest: r.highest,
        ratio: r.ratio,
      });
    }
  }
}

describe('ClusterMetrics across processes', () => {
  it('sums counters, merges histograms and applies gauge aggregators, the same on every process', async () => {
    const peers = await start([{}, {}, {}]);
    await record(peers);
    const texts = await Promise.all(peers.map((p) => scrape(p.proc)));
    for (const text of texts) {
      expect(text.family('app_requests_total').type).toBe('counter');
      expect(text.value('app_requests_total', { route: 'a' })).toBe(3);
      expect(text.value('app_requests_total', { route: 'b' })).toBe(4);
      expect(text.family('app_latency_seconds').type).toBe('histogram');
      const bucket = (route: string, le: string) =>
        text.value('app_latency_seconds_bucket', { route, le });
      expect([
        bucket('a', '0.1'),
        bucket('a', '0.5'),
        bucket('a', '1'),
        bucket('a', '+Inf'),
      ]).toEqual([1, 2, 3, 3]);
      expect([
        bucket('b', '0.1'),
        bucket('b', '0.5'),
        bucket('b', '1'),
        bucket('b', '+Inf'),
      ]).toEqual([2, 2, 3, 4]);
      expect(text.value('app_latency_seconds_count', { route: 'a' })).toBe(3);
      expect(text.value('app_latency_seconds_count', { route: 'b' })).toBe(4);
      expect(text.value('app_latency_seconds_sum', { route: 'a' })).toBeCloseTo(1.05, 10);
      expect(text.value('app_latency_seconds_sum', { route: 'b' })).toBeCloseTo(2.7, 10);
      expect(text.value('app_in_flight')).toBe(6); // gauges sum unless told otherwise
      expect(text.value('app_highest_seen')).toBe(9); // aggregator: 'max'
      // A NaN from another process stays NaN (JSON carries it as null, which would sum as 0).
      expect(text.value('app_ratio')).toBeNaN();
      const up = Object.fromEntries(peers.map((p) => [String(p.id), 1]));
      expect(text.by('ipc_metrics_peer_up', 'peer')).toEqual(up);
      // The channel's own series stay one per process: one hub, elected once.
      const hubs = text.by('ipc_channel_hub', 'peer');
      expect(Object.keys(hubs).sort()).toEqual(peers.map((p) => String(p.id)).sort());
      expect(Object.values(hubs).reduce((a, b) => a + b)).toBe(1);
      expect(
        Object.values(text.by('ipc_channel_hubs_hosted_total', 'peer')).reduce((a, b) => a + b),
      ).toBe(1);
      expect(Object.values(text.by('ipc_channel_connected', 'peer'))).toEqual([1, 1, 1]);
    }
  });

  it('reports the channel figures each process counted, exactly', async () => {
    const [a, b, c] = await start([{}, {}, {}]);
    await a!.proc.call('stream', { to: b!.id, count: 100 });
    await until(
      async () =>
        (await b!.proc.call<{ messagesReceived: number }>('stats')).messagesReceived >= 100,
      undefined,
      'peer b to read 100 events',
    );
    await until(
      async () =>
        (await a!.proc.call<{ unconfirmedMessages: number }>('stats')).unconfirmedMessages === 0,
      undefined,
      'peer a to have every event confirmed',
    );
    const sa = await a!.proc.call<Record<string, number>>('stats');
    const sb = await b!.proc.call<Record<string, number>>('stats');
    expect(sa.messagesSent).toBe(100);
    expect(sb.messagesReceived).toBe(100);
    expect(sb.bytesReceived).toBe(sa.bytesSent);
    // Collected from c: a and b each read its request before collecting, and answer after.
    const text = await scrape(c!.proc);
    const labels = (p: Started) => ({ channel: expect.any(String), peer: String(p.id) });
    const of = (name: string, p: Started) =>
      text.family(name).samples.find((s) => s.labels.peer === String(p.id))!;
    expect(of('ipc_channel_messages_sent_total', a!).labels).toEqual(labels(a!));
    expect(of('ipc_channel_messages_sent_total', a!).value).toBe(100);
    expect(of('ipc_channel_sent_bytes_total', a!).value).toBe(sa.bytesSent);
    expect(of('ipc_channel_messages_received_total', a!).value).toBe(1);
    expect(of('ipc_channel_messages_received_total', b!).value).toBe(101);
    expect(of('ipc_channel_received_bytes_total', b!).value).toBeGreaterThan(sb.bytesReceived);
    for (const figure of ['queued', 'unconfirmed', 'held']) {
      expect(of(`ipc_channel_${figure}_messages`, a!).value).toBe(0);
    }
    expect(of('ipc_channel_pending_bytes', a!).value).toBe(0);
    expect(of('ipc_channel_failovers_total', a!).value).toBe(0);
  });

  it('marks a process that never set metrics up, and one that hangs, as down after the timeout', async () => {
    // Long enough for a loaded machine's live peers; the two below never answer in time. The
    // collector a hosts the hub: a hung hub would hold up every peer's answer (see docs).
    const timeout = { METRICS_TIMEOUT_MS: '5000' };
    const [a, b, c, bare] = await start([timeout, timeout, timeout, { METRICS: '0' }]);
    await record([a!, b!, c!]);
    const release = join(box.dir, 'release-c');
    await c!.proc.call('hang', { until: release });
    await c!.proc.waitEvent((e) => e.ev === 'hanging');
    const text = await scrape(a!.proc);
    writeFileSync(release, '');
    expect(text.by('ipc_metrics_peer_up', 'peer')).toEqual({
      [a!.id]: 1,
      [b!.id]: 1,
      [c!.id]: 0,
      [bare!.id]: 0,
    });
    // Only what a and b recorded.
    expect(text.value('app_requests_total', { route: 'a' })).toBe(3);
    expect(text.value('app_requests_total', { route: 'b' })).toBe(1);
    // c answers again once it runs; its late answer to the last round changes nothing.
    await c!.proc.call('state');
    const again = await scrape(a!.proc);
    expect(again.value(`ipc_metrics_peer_up`, { peer: String(c!.id) })).toBe(1);
    expect(again.value('app_requests_total', { route: 'b' })).toBe(4);
  });

  it('does not wait for a peer that closed its ClusterMetrics or was killed', async () => {
    // A timeout no test could sit out: each peer below must be settled by what it says or what
    // the channel knows, not by the clock.
    const never = { METRICS_TIMEOUT_MS: String(2 ** 31 - 1) };
    const [a, b, c] = await start([never, never, never]);
    await record([a!, b!, c!]);
    expect(await b!.proc.call('stopMetrics')).toBe(true);
    const text = await scrape(a!.proc);
    expect(text.by('ipc_metrics_peer_up', 'peer')).toEqual({ [a!.id]: 1, [b!.id]: 0, [c!.id]: 1 });
    expect(text.value('app_requests_total', { route: 'a' })).toBe(2);
    expect(text.value('app_requests_total', { route: 'b' })).toBe(3);
    expect(text.by('ipc_channel_hub', 'peer')[String(b!.id)]).toBeUndefined();

    await c!.proc.kill();
    const after = await scrape(a!.proc);
    expect([undefined, 0]).toContain(after.by('ipc_metrics_peer_up', 'peer')[String(c!.id)]);
    expect(after.value('app_requests_total', { route: 'a' })).toBe(2);
    expect(() => after.value('app_requests_total', { route: 'b' })).toThrow('no sample');
  });

  it('counts a failover on every survivor when the hub is killed', async () => {
    const peers = await start([{}, {}, {}]);
    const hubOf = async () => {
      const states = await Promise.all(peers.map((p) => p.proc.call<{ isHub: boolean }>('state')));
      return peers[states.findIndex((s) => s.isHub)]!;
    };
    const hub = await hubOf();
    const survivors = peers.filter((p) => p !== hub);
    await hub.proc.kill();
    await until(
      async () => {
        const states = await Promise.all(
          survivors.map((p) =>
            p.proc.call<{ connected: boolean; peers: number[]; isHub: boolean }>('state'),
          ),
        );
        return (
          states.every((s) => s.connected && s.peers.length === 2) && states.some((s) => s.isHub)
        );
      },
      undefined,
      'the survivors to settle on a new hub',
    );
    const text = await scrape(survivors[0]!.proc);
    const ids = survivors.map((p) => String(p.id)).sort();
    const failovers = text.by('ipc_channel_failovers_total', 'peer');
    expect(Object.keys(failovers).sort()).toEqual(ids);
    expect(Object.values(failovers)).toEqual([1, 1]);
    expect(Object.values(text.by('ipc_channel_hub', 'peer')).sort()).toEqual([0, 1]);
    expect(Object.values(text.by('ipc_channel_hubs_hosted_total', 'peer')).sort()).toEqual([0, 1]);
    expect(text.by('ipc_metrics_peer_up', 'peer')).toEqual(
      Object.fromEntries(ids.map((id) => [id, 1])),
    );
  });

  it('counts a handover, not a failover, when the hub closes gracefully', async () => {
    const peers = await start([{}, {}, {}]);
    const states = await Promise.all(peers.map((p) => p.proc.call<{ isHub: boolean }>('state')));
    const hub = peers[states.findIndex((s) => s.isHub)]!;
    const survivors = peers.filter((p) => p !== hub);
    await hub.proc.call('close');
    await until(
      async () => {
        const now = await Promise.all(
          survivors.map((p) =>
            p.proc.call<{ connected: boolean; peers: number[]; isHub: boolean }>('state'),
          ),
        );
        return now.every((s) => s.connected && s.peers.length === 2) && now.some((s) => s.isHub);
      },
      undefined,
      'the survivors to settle on the next hub',
    );
    const text = await scrape(survivors[0]!.proc);
    expect(Object.values(text.by('ipc_channel_handovers_total', 'peer'))).toEqual([1, 1]);
    expect(Object.values(text.by('ipc_channel_failovers_total', 'peer'))).toEqual([0, 0]);
  });
});
