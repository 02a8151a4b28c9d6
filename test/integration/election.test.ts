import { lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { Proc, killAll, publicEndpoint, startMany, tempDir, until } from '../helpers/processes.js';

interface RaceResult {
  pid: number;
  id: number;
  isHub: boolean;
  peers: number[];
  hubId: number;
  hubEvents: number[];
  releasedAt: number;
}
interface State {
  pid: number;
  id: number;
  isHub: boolean;
  peers: number[];
  hubId: number;
}

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});

test('8 processes released at once, 20 rounds: exactly one hub each round, ids 1..8', async () => {
  const racers = await startMany(8, 'racer.js', () => ({}));
  const spreads: number[] = [];
  for (let round = 0; round < 20; round++) {
    const race = { name: `race-${round % 3}`, dir: dir.path, expected: 8 };
    await Promise.all(racers.map((r) => r.call('arm', race)));
    // Every racer now waits on this signal; one synchronous loop releases them all.
    for (const r of racers) r.child.kill('SIGUSR2');
    const results = await Promise.all(racers.map((r) => r.call<RaceResult>('result', {}, 60_000)));
    const released = results.map((r) => r.releasedAt);
    spreads.push(Math.max(...released) - Math.min(...released));
    const hubs = results.filter((r) => r.isHub);
    expect(hubs).toHaveLength(1);
    expect(results.map((r) => r.id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const r of results) {
      expect(r.peers).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(r.hubId).toBe(hubs[0]!.id);
      // No process ever saw another hub: there was never a second one, even briefly.
      expect(new Set(r.hubEvents)).toEqual(new Set([hubs[0]!.id]));
    }
    await Promise.all(racers.map((r) => r.call('close')));
    // A graceful close removes the socket, the lock and the hub's private name.
    expect(readdirSync(dir.path)).toEqual([]);
  }
  // How closely they started is up to the scheduler (a loaded machine wakes them later):
  // reported, not asserted.
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  const sorted = [...spreads].sort((a, b) => a - b);
  process.stdout.write(
    `election race: the 8 racers woke within ${ms(sorted[sorted.length >> 1]!)} of each other (median of 20 rounds), ${ms(sorted[sorted.length - 1]!)} at most\n`,
  );
}, 300_000);

function peerEnv(name: string, extra: Record<string, unknown> = {}) {
  return { PEER_OPTIONS: JSON.stringify({ name, dir: dir.path, ...extra }) };
}

// A Unix socket file outlives its hub; the tcp endpoint file's equivalent is in tcp-endpoint.test.ts.
// Forced to unix so that test:tcp checks it too, instead of skipping it.
test('the stale socket of a kill -9-ed hub is replaced by the next process', async () => {
  const a = await Proc.start('peer.js', peerEnv('stale', { transport: 'unix' }));
  const sa = await a.call<State>('connect');
  expect(sa.isHub).toBe(true);
  const socketName = readdirSync(dir.path).find((f) => f.endsWith('.sock'))!;
  const path = `${dir.path}/${socketName}`;
  const inoBefore = lstatSync(path).ino;
  await a.kill('SIGKILL');

  // The file is still there, and nobody answers on it.
  expect(lstatSync(path).isSocket()).toBe(true);
  const refused = await new Promise<string>((resolve) => {
    const s = createConnection({ path });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code!));
    s.on('connect', () => resolve('connected'));
  });
  expect(refused).toBe('ECONNREFUSED');

  const b = await Proc.start('peer.js', peerEnv('stale', { transport: 'unix' }));
  const sb = await b.call<State>('connect');
  expect(sb.isHub).toBe(true);
  expect(lstatSync(path).ino).not.toBe(inoBefore);
  // The dead hub's private name was cleaned up too; only b's remain.
  expect(readdirSync(dir.path).filter((f) => f.endsWith('.hub'))).toEqual([
    socketName.replace(/\.sock$/, `.${sb.pid}.hub`),
  ]);
});

test('a live hub is never displaced: 8 newcomers at once, a stale-looking lock, and a dead lock holder change nothing', async () => {
  const hub = await Proc.start('peer.js', peerEnv('live'));
  const sh = await hub.call<State>('connect');
  expect(sh.isHub).toBe(true);
  const path = publicEndpoint(dir.path);
  const ino = lstatSync(path).ino;
  // A lock left by a process that no longer exists must not tempt anyone to take over.
  writeFileSync(path.replace(/\.(sock|tcp)$/, '.lock'), '999999\n');

  const newcomers = await startMany(8, 'peer.js', () => peerEnv('live'));
  const states = await Promise.all(newcomers.map((p) => p.call<State>('connect')));
  expect(states.every((s) => !s.isHub)).toBe(true);
  expect(states.every((s) => s.hubId === sh.id)).toBe(true);
  await until(async () => (await hub.call<State>('state')).peers.length === 9, 30_000);
  expect(lstatSync(path).ino).toBe(ino);
  expect((await hub.call<State>('state')).isHub).toBe(true);
});

test('a process that exits while holding the election lock does not leave the lock file behind', async () => {
  const { execFileSync } = await import('node:child_process');
  const { FIXTURES } = await import('../helpers/processes.js');
  const lockModule = `${FIXTURES}/../../src/channel/election/election-lock.js`;
  const lockPath = `${dir.path}/x.lock`;
  const script = `import { ElectionLock } from ${JSON.stringify(lockModule)};
const lock = new ElectionLock(${JSON.stringify(lockPath)});
if (!lock.tryAcquire()) process.exit(3);
process.exit(0); // as a process killed by process.exit mid-election`;
  execFileSync(process.execPath, ['--input-type=module', '-e', script]);
  expect(readdirSync(dir.path)).toEqual([]);
});
