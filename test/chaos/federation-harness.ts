import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { TargetSpec } from '../../src/index.js';
import { between, seededRandom } from '../fixtures/seeded-random.js';
import { type HostPeer, Hosts } from '../helpers/hosts.js';
import { sleep } from '../helpers/processes.js';
import { startRedis } from '../helpers/redis-server.js';
import { type SenderReport, type Verdict, check, readLogs } from './checker.js';

/**
 * The chaos run across two simulated hosts, A and B, with `perHost` processes each, on one real
 * Redis (append-only, fsync always). Every process sends to every process of both hosts (itself
 * included) and broadcasts to 'all', while at moments drawn from the seed one fault strikes per
 * round: kill -9 of the process hosting host A's hub (its bridge dies with it), of host B's, or
 * kill -9 of Redis, started again after a drawn outage. Every three rounds deal each fault once,
 * in an order drawn from the seed, so that a short run has them all. A killed process comes back at once
 * under its id. Then traffic stops, the hosts settle, and the chaos checker judges the logs
 * (rules 1 to 5 of checker.ts: nothing lost, nothing duplicated, order per sender), with
 * membership judged per host: one hub on each, every process listing every live peer.
 *
 * The processes name each other in the logs by a global slot: host A's peer n is slot n, host
 * B's is slot 100 + n.
 */
export type FederationFault = 'killHubA' | 'killHubB' | 'crashRedis';

const FAULTS: FederationFault[] = ['killHubA', 'killHubB', 'crashRedis'];
const SLOT_BASE: Record<string, number> = { A: 0, B: 100 };
const TRAFFIC = { perTick: 1, tickMs: 10 };

export interface FederationChaosOptions {
  seed: number;
  rounds: number;
  perHost?: number;
  graceMs?: number;
  log?: (line: string) => void;
  keepLogs?: boolean;
  /** The faults to deal (default all three): one alone, to tell which breaks a run. */
  faults?: FederationFault[];
}

export interface FederationChaosReport extends Verdict {
  seed: number;
  rounds: number;
  faults: Record<FederationFault, number>;
  logDir: string | undefined;
  seconds: number;
}

export async function runFederationChaos(
  options: FederationChaosOptions,
): Promise<FederationChaosReport> {
  const started = Date.now();
  const { seed, rounds } = options;
  const perHost = options.perHost ?? 3;
  const say = options.log ?? (() => {});
  const rand = seededRandom(seed);
  const logDir = mkdtempSync('/tmp/ipc-fedchaos-');
  const faults: Record<FederationFault, number> = { killHubA: 0, killHubB: 0, crashRedis: 0 };
  const killedPids = new Set<number>();
  const deck: FederationFault[] = [];
  const redis = await startRedis();
  const hosts = new Hosts({ redis: redis.url, options: { graceMs: options.graceMs ?? 5000 } });
  const slotOf = (p: HostPeer) => SLOT_BASE[p.host]! + p.id;
  const extra = (host: string, id: number) => ({
    logDir,
    slot: SLOT_BASE[host]! + id,
    slotBase: SLOT_BASE,
  });
  const layout = Object.keys(SLOT_BASE).flatMap((host) =>
    Array.from({ length: perHost }, (_, i) => ({ host, id: i + 1 })),
  );
  /** Every process of both hosts as `sender` addresses it, and 'all'. */
  const targetsOf = (sender: HostPeer): TargetSpec[] => [
    ...layout.map(({ host, id }): TargetSpec => (host === sender.host ? id : `${host}/${id}`)),
    'all',
  ];
  const spray = (p: HostPeer) =>
    p.proc.call('spray', { targets: targetsOf(p), chaos: true, ...TRAFFIC }, 30_000);
  const killHub = async (host: string, restartDelay: number) => {
    const hub = await hosts.hub(host);
    killedPids.add(hub.proc.pid);
    await hosts.kill(hub);
    await sleep(restartDelay);
    await spray(await hosts.start(host, hub.id, extra(host, hub.id)));
    return hub.id;
  };

  try {
    say(`federation chaos: seed ${seed}, ${rounds} rounds, ${perHost} per host, logs in ${logDir}`);
    const peers = await Promise.all(
      layout.map(({ host, id }) => hosts.start(host, id, extra(host, id))),
    );
    await hosts.settled();
    await Promise.all(peers.map(spray));

    for (let round = 1; round <= rounds; round++) {
      await sleep(between(rand, 300, 1200));
      if (deck.length === 0) deck.push(...shuffled(options.faults ?? FAULTS, rand));
      const fault = deck.shift()!;
      // Drawn now, in a fixed order, so that a seed replays one schedule.
      const restartDelay = between(rand, 0, 500);
      const outageMs = between(rand, 200, 1500);
      let what: string;
      // Wall-clock times, to match against the times in the logs and the checker's findings.
      const began = Date.now();
      switch (fault) {
        case 'killHubA':
          what = `slot ${SLOT_BASE.A! + (await killHub('A', restartDelay))}`;
          break;
        case 'killHubB':
          what = `slot ${SLOT_BASE.B! + (await killHub('B', restartDelay))}`;
          break;
        case 'crashRedis':
          await redis.kill();
          await sleep(outageMs);
          await redis.start();
          what = `down ${outageMs} ms`;
          break;
      }
      faults[fault]++;
      say(`round ${round}: ${fault} (${what}), ${began} to ${Date.now()} ms`);
    }

    // Half a second more traffic after the last fault; then every process stops sending and
    // waits until all it sent is confirmed: a frame is confirmed only after every receiver's
    // handler logged it, and a remote one only once its host's hub confirmed it to the bridge.
    await sleep(500);
    const settleMs = 60_000;
    const live = hosts.peers();
    const stopped = await Promise.all(
      live.map((p) =>
        p.proc.call<{ pendingBytes: number }>('stopSpray', { waitMs: settleMs }, settleMs + 30_000),
      ),
    );
    const violations: string[] = [];
    stopped.forEach((s, i) => {
      if (s.pendingBytes > 0)
        violations.push(
          `settle: slot ${slotOf(live[i]!)} still had ${s.pendingBytes} bytes unconfirmed ${settleMs / 1000} s after it stopped sending`,
        );
    });
    // Remote deliveries are confirmed to the sender once stored in the inbox: wait until every
    // process has every process's last number, which a final marker per pair proves.
    await everyoneCaughtUp(live);
    const membership = await hosts.settled().then(
      () => undefined,
      (e: Error) => `membership: ${e.message}`,
    );
    if (membership !== undefined) violations.push(membership);
    const reports = await Promise.all(live.map((p) => p.proc.call<SenderReport>('report')));
    await Promise.all(live.map((p) => p.proc.call('close', {}, 60_000)));
    for (const host of Object.keys(SLOT_BASE)) {
      const left = readdirSync(hosts.dir(host));
      if (left.length > 0) violations.push(`leftovers on host ${host}: ${left.join(', ')}`);
    }

    const logs = readLogs(logDir, killedPids);
    const verdict = check(logs, reports, undefined);
    verdict.violations.unshift(...violations);
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
      logDir: keep ? logDir : undefined,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await hosts.close();
    await redis.stop();
  }
}

/** `items` in an order drawn from `rand` (Fisher-Yates). */
function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = between(rand, 0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Resolves once every process has received everything every other process sent it: a marker
 * from each to each arrives after all of the sender's earlier frames to that receiver.
 */
async function everyoneCaughtUp(live: HostPeer[]): Promise<void> {
  let n = 0;
  await Promise.all(
    live.flatMap((s) =>
      live.map(async (r) => {
        const token = `end-${++n}`;
        const to = r.host === s.host ? r.id : `${r.host}/${r.id}`;
        await s.proc.call('mark', { to, token });
        await r.proc.waitEvent((e) => e.ev === 'mark' && e.token === token, 60_000);
      }),
    ),
  );
}
