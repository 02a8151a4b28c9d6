/**
 * What stands between a process and a hub that is not its channel's (docs/guarantees.md,
 * "Security and limits"): the directory's whole path and identity are checked at every
 * election, and whatever else occupies the socket path or the lock is named precisely.
 */
import { chmodSync, mkdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import {
  ConnectTimeoutError,
  ElectionLockHeldError,
  ForeignEndpointError,
  HubSilentError,
  UnsafeDirectoryError,
} from '../../src/index.js';
import { resolveEndpoint } from '../../src/channel/endpoint/endpoint.js';
import { pidNamespace } from '../../src/channel/util/liveness.js';
import { TRANSPORT } from '../helpers/endpoint.js';
import { type PeerReceived, type PeerState, received } from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { sandbox } from '../helpers/sandbox.js';
import { rejection } from '../helpers/thrown.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'guard' });
const endpointOf = (dir = box.dir) => resolveEndpoint('guard', { dir, transport: TRANSPORT });
const unixOnly = TRANSPORT === 'unix' ? test : test.skip;

/** A server of another program at `path`, which greets each connection with `greeting`. */
async function foreignServer(path: string, greeting?: string): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    if (greeting !== undefined) socket.write(greeting);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

test('a directory at the socket path fails connect() at once with ForeignEndpointError', async () => {
  mkdirSync(endpointOf().path);
  const err = await rejection(box.channel({ connectTimeoutMs: 20_000 }).connect());
  expect(err).toBeInstanceOf(ForeignEndpointError);
  expect((err as ForeignEndpointError).found).toBe('a directory');
  expect((err as Error).message).toContain(`Something else is at the channel's socket path`);
});

unixOnly(
  'a server of another program at the socket path fails connect() with what it answered',
  async () => {
    const server = await foreignServer(endpointOf().path, 'HTTP/1.1 400 Bad Request\r\n\r\n');
    try {
      const err = await rejection(box.channel({ connectTimeoutMs: 20_000 }).connect());
      expect(err).toBeInstanceOf(ForeignEndpointError);
      expect((err as ForeignEndpointError).found).toBe(
        'a server that answered "HTTP/1.1 400 Bad Request\\r\\n\\r\\n"',
      );
    } finally {
      server.close();
    }
  },
);

unixOnly(
  'a server that accepts and never speaks: connect() times out with HubSilentError',
  async () => {
    const server = await foreignServer(endpointOf().path);
    try {
      const err = await rejection(box.channel({ connectTimeoutMs: 3000 }).connect());
      expect(err).toBeInstanceOf(HubSilentError);
      expect(err).toBeInstanceOf(ConnectTimeoutError);
      expect((err as HubSilentError).code).toBe('ERR_IPC_HUB_SILENT');
      expect((err as Error).message).toContain(
        'accepts connections at that path but never greeted',
      );
    } finally {
      server.close();
    }
  },
);

test('a lock kept fresh by a live process: connect() names the pid and how long ago it was refreshed', async () => {
  const lockPath = endpointOf().lockPath!;
  const touch = () => {
    writeFileSync(lockPath, `${process.ppid} ${pidNamespace()}\n`);
    const now = Date.now() / 1000;
    utimesSync(lockPath, now, now);
  };
  touch();
  const keeper = setInterval(touch, 300);
  try {
    const err = await rejection(box.channel({ connectTimeoutMs: 2000 }).connect());
    expect(err).toBeInstanceOf(ElectionLockHeldError);
    const held = err as ElectionLockHeldError;
    expect(held.holder.pid).toBe(process.ppid);
    expect(held.holder.sameNamespace).toBe(true);
    expect(held.holder.refreshedMsAgo).toBeLessThan(3000);
    expect(held.message).toContain(`is held by pid ${process.ppid}, refreshed `);
    expect(held.message).toContain(`remove ${lockPath}`);
  } finally {
    clearInterval(keeper);
  }
});

test('a parent directory writable by others and not sticky is refused, naming it', async () => {
  const parent = `${box.dir}/open`;
  mkdirSync(parent);
  chmodSync(parent, 0o777);
  const err = await rejection(box.channel({ dir: `${parent}/chan` }).connect());
  expect(err).toBeInstanceOf(UnsafeDirectoryError);
  expect((err as Error).message).toContain(
    `The directory ${parent}, on the path of the channel directory`,
  );
  expect((err as Error).message).toContain('has mode 0777');
  // Sticky, as /tmp is: nobody can rename another user's entries in it.
  chmodSync(parent, 0o1777);
  const ok = box.channel({ dir: `${parent}/chan` });
  await ok.connect();
  expect(ok.isHub).toBe(true);
});

test('the channel directory renamed away and replaced by one with another hub: nobody rejoins there', async () => {
  const chan = `${box.dir}/chan`;
  const env = { PEER_OPTIONS: JSON.stringify({ name: 'guard', dir: chan }) };
  const hub = await Proc.start('peer.js', env);
  await hub.call('connect');
  const victim = await Proc.start('peer.js', env);
  await victim.call('connect');
  expect((await victim.call<PeerState>('state')).peers).toEqual([1, 2]);

  // What a user who can write the parent directory could do: move the directory away and put
  // one of theirs, with their own hub, in its place.
  renameSync(chan, `${box.dir}/moved`);
  mkdirSync(chan, { mode: 0o700 });
  const impostor = await Proc.start('peer.js', env);
  await impostor.call('connect');
  expect((await impostor.call<PeerState>('state')).isHub).toBe(true);

  const replaced = (r: PeerReceived) =>
    r.errors.filter((e) => e.name === 'DirectoryReplacedError').length;
  // The real hub notices its socket was replaced and steps down; both then refuse to elect.
  await until(
    async () => replaced(await received(hub)) > 0 && replaced(await received(victim)) > 0,
  );
  const error = (await received(victim)).errors.find((e) => e.name === 'DirectoryReplacedError')!;
  expect(error.code).toBe('ERR_IPC_UNSAFE_DIR');
  expect(error.message).toContain(
    `The channel directory ${chan} was replaced by another directory`,
  );
  // Whatever they retry, the impostor never gets them.
  await until(async () => replaced(await received(victim)) > 1, 20_000, 'a second refusal');
  expect((await impostor.call<PeerState>('state')).peers).toEqual([1]);
}, 40_000);
