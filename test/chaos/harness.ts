import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { Proc, sleep, tempDir, until } from '../helpers/processes.js';
import { between, seededRandom } from '../fixtures/seeded-random.js';
import { type Hang, type SenderReport, type Verdict, check, readLogs } from './checker.js';
import { type Fault, LIVENESS, pickFault } from './faults.js';

export { type Fault, KILLS } from './faults.js';

/**
 * The chaos run: N peers with mixed traffic, and at moments drawn from the seed, one fault per
 * round: kill -9 the hub, kill -9 an ordinary peer (restarted at once under its slot), SIGSTOP a
 * peer or the hub for less than the heartbeat and stall timeouts (nothing may change), SIGSTOP
 * them for longer (a hung hub is deposed and fenced, a hung reader cut off), or start an extra
 * peer. Some rounds overlap two faults:
 * the hub elected after a kill is killed too while the survivors are still rejoining it, the
 * hub and a peer die at the same moment, or the hub dies while a peer is stopped (that peer
 * wakes to a hub it has never met). Then traffic stops, the run settles, and the checker (see
 * checker.ts) judges the logs.
 *
 * The seed fixes the schedule of faults and every peer's traffic mix. Scheduling between
 * processes is not reproducible, so a seed that failed once replays the same faults at the
 * same moments but may need a few runs to fail again.
 */
export interface ChaosOptions {
  seed: number;
  rounds: number;
  peers?: number;
  maxExtras?: number;
  graceMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Keep the log directory (it is printed) even when the run passes. */
  keepLogs?: boolean;
  /**
   * A soak instead of chaos: every round waits this long, then kills the hub with SIGKILL (a
   * failover); every process's memory, file descriptors and handles are sampled throughout.
   */
  soakFailoverEveryMs?: number;
}

/**
 * A process's resources when it was warm (WARM_MS after start) and at its last sample in the
 * same role (a hub holds a socket per peer more than a peer does).
 */
export interface ResourceTrend {
  slot: number;
  pid: number;
  seconds: number;
  start: Resources;
  end: Resources;
}
interface Resources {
  isHub: boolean;
  rss: number;
  heapUsed: number;
  fds: number;
  handles: number;
}
const WARM_MS = 15_000;
const SAMPLE_MS = 5_000;

export interface ChaosReport extends Verdict {
  seed: number;
  rounds: number;
  faults: Record<Fault, number>;
  /** Files left in the channel's directory after every process closed. */
  leftovers: string[];
  logDir: string | undefined;
  seconds: number;
  resources: ResourceTrend[];
}

const TRAFFIC = { tickMs: 20, burst: 3, largeEvery: 150, broadcastEvery: 4, requestEvery: 6 };

/** A process's state once it stopped sending and waited for its confirmations. */
interface Settled {
  slot: number;
  pendingBytes: number;
  inflight: number;
}

interface Slot {
  slot: number;
  proc: Proc;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const { seed, rounds } = options;
  const n = options.peers ?? 5;
  const maxExtras = options.maxExtras ?? 2;
  const graceMs = options.graceMs ?? 5000;
  const say = options.log ?? (() => {});
  const rand = seededRandom(seed);
  const dir = tempDir();
  const logDir = mkdtempSync('/tmp/ipc-chaos-');
  const faults: Record<Fault, number> = {
    killHub: 0,
    killPeer: 0,
    stopPeer: 0,
    stopHub: 0,
    hangReader: 0,
    hangHub: 0,
    addPeer: 0,
    killHubTwice: 0,
    killHubAndPeer: 0,
    stopPeerKillHub: 0,
    none: 0,
  };
  const live = new Map<number, Slot>();
  const killedPids = new Set<number>();
  const hangs: Hang[] = [];
  const everyone: Proc[] = [];
  const slots = () => [...live.keys()].sort((a, b) => a - b);
  const soak = options.soakFailoverEveryMs;
  const samples = new Map<
    number,
    { slot: number; born: number; warm?: Resources; at?: number; last?: Resources; lastAt?: number }
  >();
  let sampling = soak !== undefined;
  const sampler = (async () => {
    while (sampling) {
      await sleep(SAMPLE_MS);
      await Promise.all(
        [...live.values()].map(async ({ slot, proc }) => {
          const r = await proc.call<Resources>('resources', {}, SAMPLE_MS).catch(() => undefined);
          if (r === undefined) return;
          const s = samples.get(proc.pid) ?? { slot, born: Date.now() };
          samples.set(proc.pid, s);
          if (s.warm === undefined && Date.now() - s.born >= WARM_MS) {
            s.warm = r;
            s.at = Date.now();
          }
          if (s.warm !== undefined && r.isHub === s.warm.isHub) {
            s.last = r;
            s.lastAt = Date.now();
          }
        }),
      );
    }
  })();

  const launch = (slot: number) => {
    const proc = Proc.launch('chaos-peer.js', {
      CHAOS_PEER: JSON.stringify({
        name: 'chaos',
        dir: dir.path,
        slot,
        seed,
        logDir,
        graceMs,
        liveness: LIVENESS,
      }),
      // PM2's instance variables: the channel's preferred id is instance + 1 = slot.
      pm_id: String(slot - 1),
      NODE_APP_INSTANCE: String(slot - 1),
    });
    everyone.push(proc);
    return proc;
  };
  const begin = async (slot: number, proc: Proc) => {
    await proc.waitEvent((e) => e.ev === 'ready', 30_000);
    await proc.call('connect', {}, 60_000);
    live.set(slot, { slot, proc });
    samples.set(proc.pid, { slot, born: Date.now() });
  };
  const startTraffic = (proc: Proc) =>
    proc.call('start', { targets: slots(), traffic: TRAFFIC }, 30_000);
  /** The slot whose process hosts the hub, once one does (a SIGSTOPped one is not asked). */
  const hubSlot = async (skip?: number): Promise<number> =>
    until(
      async () => {
        for (const { slot, proc } of live.values()) {
          if (slot === skip) continue;
          const s = await proc.call<{ isHub: boolean }>('state', {}, 30_000);
          if (s.isHub) return slot;
        }
        return 0;
      },
      60_000,
      'a hub',
    );
  /** kill -9, then the same slot again after `delayMs` (drawn by the caller, in seed order). */
  const restart = async (slot: number, delayMs: number) => {
    const old = live.get(slot)!;
    killedPids.add(old.proc.pid);
    live.delete(slot);
    await old.proc.kill('SIGKILL');
    await sleep(delayMs);
    const proc = launch(slot);
    await begin(slot, proc);
    await startTraffic(proc);
  };
  const pause = async (slot: number, ms: number, meanwhile?: () => Promise<void>) => {
    const { proc } = live.get(slot)!;
    proc.child.kill('SIGSTOP');
    const wake = sleep(ms);
    await meanwhile?.();
    await wake;
    proc.child.kill('SIGCONT');
  };

  try {
    say(`chaos: seed ${seed}, ${rounds} rounds, ${n} peers, logs in ${logDir}`);
    const first = Array.from({ length: n }, (_, i) => ({ slot: i + 1, proc: launch(i + 1) }));
    await Promise.all(first.map(({ slot, proc }) => begin(slot, proc)));
    await Promise.all([...live.values()].map(({ proc }) => startTraffic(proc)));

    for (let round = 1; round <= rounds; round++) {
      await sleep(soak ?? between(rand, 200, 1200));
      let fault: Fault = soak === undefined ? pickFault(rand()) : 'killHub';
      if (fault === 'addPeer' && live.size >= n + maxExtras) fault = 'none';
      const hub = fault === 'none' || fault === 'addPeer' ? 0 : await hubSlot();
      const others = slots().filter((s) => s !== hub);
      const victim = others[between(rand, 0, others.length - 1)]!;
      // Every delay is drawn now, in a fixed order, so a seed replays the same schedule even
      // when overlapping faults finish in another order.
      const restartDelay = between(rand, 0, 500);
      const secondDelay = between(rand, 0, 500);
      // Below the timeouts, and above them.
      const stopMs = between(rand, 200, 800);
      const hangMs = LIVENESS.heartbeatTimeoutMs + between(rand, 500, 1500);
      const overlapMs = between(rand, 0, 150);
      let second = 0;
      switch (fault) {
        case 'killHub':
          await restart(hub, restartDelay);
          break;
        case 'killPeer':
          await restart(victim, restartDelay);
          break;
        case 'stopPeer':
          await pause(victim, stopMs);
          break;
        case 'stopHub':
          await pause(hub, stopMs);
          break;
        case 'hangReader': {
          // Cut off by the hub; it joins again when it runs, having missed some broadcasts.
          const from = Date.now();
          await pause(victim, hangMs);
          hangs.push({ pid: live.get(victim)!.proc.pid, from, to: Date.now() });
          break;
        }
        case 'hangHub':
          // Deposed: the others elect a new hub; woken, it steps down and its peer rejoins.
          await pause(hub, hangMs);
          break;
        case 'killHubTwice': {
          // The survivors are still electing or rejoining when their new hub dies as well.
          const first = restart(hub, restartDelay);
          await sleep(overlapMs);
          second = await hubSlot(hub);
          await Promise.all([first, restart(second, secondDelay)]);
          break;
        }
        case 'killHubAndPeer':
          second = victim;
          await Promise.all([restart(hub, restartDelay), restart(victim, secondDelay)]);
          break;
        case 'stopPeerKillHub':
          // The stopped peer misses the hub's death and the election; it wakes to a new hub.
          await pause(victim, 1000 + stopMs, async () => {
            await sleep(overlapMs);
            await restart(hub, restartDelay);
          });
          break;
        case 'addPeer': {
          const slot = Math.max(...slots()) + 1;
          const proc = launch(slot);
          await begin(slot, proc);
          await startTraffic(proc);
          await Promise.all(
            [...live.values()].map(({ proc: p }) => p.call('targets', { targets: slots() })),
          );
          break;
        }
        case 'none':
          break;
      }
      faults[fault]++;
      const target =
        fault === 'none'
          ? ''
          : fault === 'addPeer'
            ? `slot ${Math.max(...slots())}`
            : fault === 'stopPeer' || fault === 'killPeer' || fault === 'hangReader'
              ? `slot ${victim}`
              : fault === 'stopPeerKillHub'
                ? `hub slot ${hub}, stopped slot ${victim}`
                : second !== 0
                  ? `slots ${hub} and ${second}`
                  : `slot ${hub}`;
      say(`round ${round}: ${fault}${target ? ` (${target})` : ''}`);
    }

    sampling = false;
    await sampler;
    // Half a second more of traffic after the last fault; then every live process stops sending
    // and waits until all it sent is confirmed read and every request settled. A frame is
    // confirmed only after its handler (which logs it) returned, so the logs are then complete.
    await sleep(500);
    const settleMs = 6 * graceMs;
    const settled = await Promise.all(
      [...live.values()].map(({ proc }) =>
        proc.call<Settled>('stop', { waitMs: settleMs }, settleMs + 30_000),
      ),
    );
    const reports = await Promise.all(
      [...live.values()].map(({ proc }) => proc.call<SenderReport>('report')),
    );
    await Promise.all([...live.values()].map(({ proc }) => proc.call('close', {}, 60_000)));
    await Promise.all([...live.values()].map(({ proc }) => proc.kill('SIGTERM')));
    const leftovers = readdirSync(dir.path);

    const logs = readLogs(logDir, killedPids);
    const verdict = check(logs, reports, slots(), hangs);
    for (const p of settled) {
      if (p.pendingBytes > 0 || p.inflight > 0)
        verdict.violations.push(
          `settle: slot ${p.slot} still had ${p.pendingBytes} bytes unconfirmed and ${p.inflight} requests pending ${settleMs / 1000} s after it stopped sending`,
        );
    }
    if (leftovers.length > 0)
      verdict.violations.push(`leftovers in the channel directory: ${leftovers.join(', ')}`);
    for (const r of reports) {
      for (const e of r.otherErrors) say(`note: slot ${r.slot} reported ${e}`);
    }
    const keep = options.keepLogs === true || verdict.violations.length > 0;
    if (!keep) rmSync(logDir, { recursive: true, force: true });
    return {
      ...verdict,
      seed,
      rounds,
      faults,
      leftovers,
      logDir: keep ? logDir : undefined,
      seconds: Math.round((Date.now() - started) / 1000),
      resources: [...samples.entries()]
        .filter(([, s]) => s.warm !== undefined && s.last !== undefined)
        .map(([pid, s]) => ({
          slot: s.slot,
          pid,
          seconds: Math.round((s.lastAt! - s.at!) / 1000),
          start: s.warm!,
          end: s.last!,
        })),
    };
  } finally {
    sampling = false;
    for (const p of everyone) {
      if (p.alive) {
        p.child.kill('SIGCONT');
        await p.kill('SIGKILL');
      }
    }
    dir.remove();
  }
}
