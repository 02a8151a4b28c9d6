/**
 * Processes in different PID namespaces sharing one socket directory (containers on one
 * volume, a sidecar) form one channel. Each one below runs in a namespace of its own, under a
 * pid that does not exist in the others (3, 6, 9, ...): looked up there, every other peer would
 * seem dead. Ids, the election and failover must hold anyway, and no live peer may be taken
 * for gone. Creating PID namespaces takes root and util-linux's unshare.
 */
import { spawnSync } from 'node:child_process';
import { type PeerState, TwoWayStream, received } from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

/** Runs node as pid 1 of a new PID namespace, killed with the unshare process that runs it. */
const UNSHARE = ['unshare', '--pid', '--fork', '--kill-child'];

function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'PID namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'creating PID namespaces takes root';
  const probe = spawnSync(UNSHARE[0]!, [...UNSHARE.slice(1), 'true']);
  if (probe.error !== undefined) return `unshare is not available (${probe.error.message})`;
  if (probe.status !== 0) return `unshare --pid fails here: ${probe.stderr.toString().trim()}`;
  return undefined;
}

const reason = whyNot();
if (reason !== undefined) {
  console.log(`pid-namespaces.test.ts skipped: ${reason}`);
}
const withNamespaces = reason === undefined ? test : test.skip;

const box = sandbox({ name: 'pidns', graceMs: 3000 });
let started = 0;

/**
 * A peer in a PID namespace of its own, as pid 3 + 3 × (how many were started before): the
 * namespace's first process (a shell, pid 1) uses up pids with short-lived processes, then
 * starts node as its child.
 */
function start(): Promise<Proc> {
  const burn = 3 * started++;
  const shell = ['sh', '-c', `for i in $(seq ${burn}); do /bin/true; done; "$0" "$@"`];
  return Proc.start('peer.js', box.peerEnv(), [...UNSHARE, ...shell]);
}

withNamespaces(
  'four processes, each in its own PID namespace under a pid the others lack: ids 1..4, one hub, failover keeps ids, loses nothing, and nobody live is taken for gone',
  async () => {
    const procs: Proc[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await start();
      await p.call('connect');
      procs.push(p);
    }
    const states = await Promise.all(procs.map((p) => p.call<PeerState>('state')));
    expect(states.map((s) => s.pid)).toEqual([3, 6, 9, 12]);
    expect(states.map((s) => s.id)).toEqual([1, 2, 3, 4]);
    expect(states.map((s) => s.isHub)).toEqual([true, false, false, false]);
    for (const p of procs) {
      await until(async () => (await p.call<PeerState>('state')).peers.length === 4);
    }
    const [hub, a, b, c] = procs as [Proc, Proc, Proc, Proc];
    const traffic = new TwoWayStream({ proc: a, id: 2 }, { proc: c, id: 4 });
    await traffic.more(300);

    // Only its connection tells the others the hub died; and their pids, looked up in one
    // another's namespaces, would say they had died too.
    const seen = [a, b, c].map((p) => p.events.length);
    await hub.kill();
    await until(async () => {
      const now = await Promise.all([a, b, c].map((p) => p.call<PeerState>('state')));
      return now.filter((s) => s.isHub).length === 1 && now.every((s) => s.connected);
    });
    const after = await Promise.all([a, b, c].map((p) => p.call<PeerState>('state')));
    expect(after.map((s) => s.id)).toEqual([2, 3, 4]);
    expect(after.filter((s) => s.isHub)).toHaveLength(1);
    const left = [a, b, c].map((p, i) =>
      p.events
        .slice(seen[i])
        .filter((e) => e.ev === 'leave')
        .map((e) => e.id),
    );
    // Peer 1 is kept as presumed for graceMs (its pid tells nothing here); the others never left.
    expect(left.flat().filter((id) => id !== 1)).toEqual([]);
    await traffic.more(300);

    // Id 1 is kept for its process (which may live, for all a pid of another namespace says)
    // until graceMs pass; then a newcomer of yet another namespace gets it.
    await until(async () => !(await a.call<PeerState>('state')).peers.includes(1));
    const late = await start();
    await late.call('connect');
    expect((await late.call<PeerState>('state')).id).toBe(1);
    await until(async () => (await a.call<PeerState>('state')).peers.includes(1));
    for (const p of [a, b, c]) expect((await received(p)).errors).toEqual([]);
  },
  60_000,
);
