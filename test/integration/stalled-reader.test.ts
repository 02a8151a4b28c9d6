import { type PeerState, expectNumbers, received, settled } from '../helpers/peer-fixture.js';
import { Proc, startMany } from '../helpers/processes.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { sleep, until } from '../helpers/wait.js';

const STALL_MS = 1000;
// The heartbeat timeout is longer than the stall timeout, so the stall rule is what acts.
const box = sandbox({
  name: 'stalled-reader',
  stallTimeoutMs: STALL_MS,
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 4000,
  graceMs: 15_000,
});

const WINDOW_MS = 1000;

/** Broadcasts from `senders` that `p` received during the next `ms`. */
async function receivedIn(p: Proc, senders: number[], ms: number): Promise<number> {
  const sum = async () => {
    const got = await p.call<Record<string, number>>('counts');
    return senders.reduce((n, s) => n + (got[s] ?? 0), 0);
  };
  const start = await sum();
  await sleep(ms);
  return (await sum()) - start;
}

/** `list` as runs of consecutive numbers, `[from, to]`: a failure reads at a glance. */
function runs(list: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const n of list) {
    const last = out[out.length - 1];
    if (last !== undefined && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}

/**
 * What a peer that was cut off for stalling gets of one sender's broadcasts: everything up to
 * some point (what reached it before the cut), then nothing routed while it was out, then
 * everything to the end. Returns the gap's bounds `[first missing, first after it]`.
 */
function prefixGapSuffix(list: number[], total: number): [number, number] {
  expect(new Set(list).size).toBe(list.length);
  let gapAt = 0;
  while (gapAt < list.length && list[gapAt] === gapAt) gapAt++;
  const resumeAt = gapAt < list.length ? list[gapAt]! : total;
  expect(runs(list)).toEqual(runs([...range(0, gapAt), ...range(resumeAt, total - resumeAt)]));
  return [gapAt, resumeAt];
}

test('a SIGSTOPped reader no longer holds back four peers broadcasting: their rate is back within stallTimeoutMs + 1 s; woken, it gets what the rules promise, nobody gets a copy', async () => {
  // 1 hosts the hub and sends unicasts to 4 (over a direct link); 2, 3 and 4 broadcast.
  const procs = await startMany(4, 'peer.js', (i) => box.peerEnv({ id: i + 1 }));
  const [p1, p2, p3, p4] = procs as [Proc, Proc, Proc, Proc];
  await p1.call('connect');
  await Promise.all([p2, p3, p4].map((p) => p.call('connect')));
  await settled(procs);
  await p1.call('spray', { targets: [4], perTick: 20 });
  for (const p of [p2, p3, p4]) await p.call('spray', { targets: ['others'], perTick: 20 });
  await until(
    async () => (await p1.call<Record<string, number>>('counts'))[2]! > 2000,
    30_000,
    'broadcasts to flow',
  );

  // The slower of two windows: other processes on the machine make the rate swing a little.
  const baseline = Math.min(
    await receivedIn(p1, [2, 3], WINDOW_MS),
    await receivedIn(p1, [2, 3], WINDOW_MS),
  );
  p4.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  // Within stallTimeoutMs the broadcasters' windows fill (every broadcast waits for 4 to read
  // it); then the hub cuts 4 off and they run again.
  await sleep(Math.max(0, stoppedAt + STALL_MS + 1000 - Date.now()));
  const afterCut = await receivedIn(p1, [2, 3], WINDOW_MS);
  expect(afterCut).toBeGreaterThanOrEqual(baseline / 2);
  await p1.waitEvent((e) => e.ev === 'leave' && e.id === 4);

  p4.child.kill('SIGCONT');
  await settled(procs);
  const sent = new Map<number, number>();
  sent.set(1, (await p1.call<Record<string, number>>('stopSpray'))['4']!);
  for (const [i, p] of [p2, p3, p4].entries()) {
    sent.set(i + 2, (await p.call<Record<string, number>>('stopSpray'))['others']!);
  }
  // Sent after 4 joined again: this reaches it, whatever the rules for the time it was out.
  const LAST = 50;
  for (const [i, p] of [p2, p3].entries()) {
    await p.call('stream', { to: 'others', count: LAST, from: sent.get(i + 2)! });
  }
  await until(
    async () =>
      (await Promise.all(procs.map((p) => p.call<PeerState>('state')))).every(
        (s) => s.pendingBytes === 0,
      ),
    30_000,
    'every outbox to empty',
  );

  const all = await Promise.all(procs.map(received));
  for (const got of all) expect(got.errors).toEqual([]);
  const totalOf = (sender: number) => sent.get(sender)! + (sender === 2 || sender === 3 ? LAST : 0);
  // The peers that kept reading got every broadcast, once, in order (4's own included: it
  // resent what it had not had confirmed when it was cut off, and they dropped the copies).
  for (const [i, got] of all.slice(0, 3).entries()) {
    for (const sender of [2, 3, 4]) {
      if (sender === i + 1) continue;
      expect([i + 1, sender, runs(got.numbers[sender]!)]).toEqual([
        i + 1,
        sender,
        [[0, totalOf(sender) - 1]],
      ]);
    }
  }
  // The stalled peer: every unicast, held for it while it was out; of each broadcaster, a
  // gapless start, none of what was routed while it was out, and everything from its rejoin.
  const mine = all[3]!.numbers;
  expect(runs(mine[1]!)).toEqual([[0, sent.get(1)! - 1]]);
  for (const sender of [2, 3]) {
    const [gapAt, resumeAt] = prefixGapSuffix(mine[sender]!, totalOf(sender));
    expect(gapAt).toBeGreaterThan(0);
    expect(resumeAt).toBeLessThanOrEqual(sent.get(sender)!);
  }
}, 120_000);

test('an idle peer SIGSTOPped past heartbeatTimeoutMs is cut off; its id is kept and what is sent to it meanwhile arrives once when it runs', async () => {
  const env = (id?: number) =>
    box.peerEnv({
      ...(id === undefined ? {} : { id }),
      heartbeatTimeoutMs: 1000,
      stallTimeoutMs: 4000,
    });
  const procs = await startMany(3, 'peer.js', (i) => env(i + 1));
  const [p1, p2, p3] = procs as [Proc, Proc, Proc];
  await p1.call('connect');
  await Promise.all([p2, p3].map((p) => p.call('connect')));
  await settled(procs);

  p3.child.kill('SIGSTOP');
  // Nothing is pending for it: the hub cuts it off because it stopped sending heartbeats.
  await p1.waitEvent((e) => e.ev === 'leave' && e.id === 3);
  // While it is out: messages to it are held, a request to it fails at once, and a newcomer
  // does not get its id.
  await p2.call('stream', { to: 3, count: 100 });
  await p2.call('sendNoHold', { to: 3, message: 'request-like' });
  const newcomer = await Proc.start('peer.js', env());
  expect((await newcomer.call<PeerState>('connect')).id).toBe(4);

  p3.child.kill('SIGCONT');
  const states = await settled([...procs, newcomer]);
  expect(states.map((s) => s.id)).toEqual([1, 2, 3, 4]);
  await expectNumbers(p3, 2, range(0, 100));
  expect((await received(p2)).errors).toEqual([
    {
      name: 'UndeliverableError',
      code: 'ERR_IPC_UNDELIVERABLE',
      message: expect.any(String),
      target: 3,
      reason: 'peer-absent',
      event: 'message',
      data: 'request-like',
    },
  ]);
  expect((await received(p3)).messages).toEqual([]);
}, 60_000);
