/**
 * What docs/channel.md promises on security, tested with other processes: another OS
 * user cannot reach the socket or use a directory it cannot write, and the modes hold also when
 * a hub takes over a dead hub's socket.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { EndpointUnavailableError } from '../../src/index.js';
import { UnixEndpoint } from '../../src/channel/endpoint/unix-endpoint.js';
import { FIXTURES, Proc } from '../helpers/processes.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';
import { rejection } from '../helpers/thrown.js';

const box = sandbox({ name: 'sec' });
/** Starting a process as another user (uid 65534) takes root. */
const asRoot = process.getuid?.() === 0 ? test : test.skip;

/** Runs a one-line connect attempt to `path` as another user; resolves with its outcome. */
function connectAs(uid: number, path: string): Promise<string> {
  const script = `require('net').createConnection(${JSON.stringify(path)})
    .on('connect', () => { console.log('CONNECTED'); process.exit(0); })
    .on('error', (e) => { console.log(e.code); process.exit(0); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], {
      uid,
      gid: uid,
      cwd: '/',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(out.trim()));
  });
}

asRoot(
  'another OS user cannot connect: the 0700 directory stops it (EACCES), and so does the 0600 socket alone; the hub is unaffected',
  async () => {
    const hub = box.channel({ transport: 'unix' });
    await hub.connect();
    const friend = box.channel({ transport: 'unix' });
    await friend.connect();
    const path = new UnixEndpoint('sec', box.dir).path;

    expect(await connectAs(65534, path)).toBe('EACCES');
    // Even with the directory opened for traversal, the socket's own mode refuses the stranger.
    chmodSync(box.dir, 0o711);
    try {
      expect(await connectAs(65534, path)).toBe('EACCES');
    } finally {
      chmodSync(box.dir, 0o700);
    }

    expect(hub.peers).toEqual([1, 2]);
    const got: string[] = [];
    friend.on('ping', (_from: number, s: string) => got.push(s));
    hub.to(2).emit('ping', 'still here');
    await until(() => got.length === 1);
    expect(got).toEqual(['still here']);
    expect(hub.isHub).toBe(true);
  },
);

test('a directory this user cannot write fails connect() at once with EndpointUnavailableError', async () => {
  const locked = `${box.dir}/locked`;
  mkdirSync(locked, { mode: 0o700 });
  if (process.getuid?.() !== 0) {
    chmodSync(locked, 0o500);
    const err = await rejection(box.channel({ dir: locked }).connect());
    expect(err).toBeInstanceOf(EndpointUnavailableError);
    expect((err as Error).message).toContain(`in ${locked}: the directory is not writable`);
    return;
  }
  // root writes anywhere: run the check as an unprivileged user who owns a read-only directory.
  chmodSync(box.dir, 0o711);
  chownSync(locked, 65534, 65534);
  chmodSync(locked, 0o500);
  const script = `import { Channel } from ${JSON.stringify(`${FIXTURES}/../../src/channel/index.js`)};
const ch = new Channel({ name: 'sec', dir: ${JSON.stringify(locked)} });
ch.connect().then(() => console.log('joined'), (e) => console.log(JSON.stringify({ name: e.name, message: e.message })));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    uid: 65534,
    gid: 65534,
    encoding: 'utf8',
  });
  const err = JSON.parse(out) as { name: string; message: string };
  expect(err.name).toBe('EndpointUnavailableError');
  expect(err.message).toContain(`in ${locked}: the directory is not writable`);
});

test('a hub killed with SIGKILL leaves its socket; the next hub replaces it, 0700 directory and 0600 sockets', async () => {
  const sub = `${box.dir}/ch`;
  // Unix sockets in every suite: the tcp endpoint's stale file is in tcp-endpoint.test.ts.
  const dead = await Proc.start('peer.js', box.peerEnv({ dir: sub, transport: 'unix' }));
  await dead.call('connect');
  const path = new UnixEndpoint('sec', sub).path;
  const staleIno = lstatSync(path).ino;
  await dead.kill('SIGKILL');
  // The dead hub's files are still there: this is the stale socket to take over.
  expect(lstatSync(path).isSocket()).toBe(true);

  const hub = box.channel({ dir: sub, transport: 'unix' });
  await hub.connect();
  expect(hub.isHub).toBe(true);
  expect(lstatSync(path).ino).not.toBe(staleIno);
  expect(statSync(sub).mode & 0o777).toBe(0o700);
  const files = readdirSync(sub);
  expect(files.some((f) => f.includes(`.${dead.pid}.`))).toBe(false);
  for (const f of files) {
    const st = lstatSync(`${sub}/${f}`);
    expect([f, st.isSocket(), st.mode & 0o777]).toEqual([f, true, 0o600]);
  }
  expect(files.sort()).toEqual(
    [
      path.slice(sub.length + 1),
      new UnixEndpoint('sec', sub).hubPath(process.pid).slice(sub.length + 1),
    ].sort(),
  );
});
