import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { AuthenticationError, Channel } from '../../src/index.js';
import { UnixEndpoint } from '../../src/channel/endpoint/unix-endpoint.js';
import { FrameDecoder } from '../../src/channel/wire/frame-decoder.js';
import { FrameType, OFF_TYPE, readJson } from '../../src/channel/wire/frame.js';
import { Proc, killAll, tempDir, until } from '../helpers/processes.js';

/**
 * What the security section of the README promises, tested from outside: another user cannot
 * reach the socket, the secret gates every frame and never crosses the wire, and the modes
 * hold also when a hub takes over a dead hub's socket.
 */

let dir: ReturnType<typeof tempDir>;
const open: Channel[] = [];
const servers: Server[] = [];
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await killAll();
  dir.remove();
});

function channel(options: ConstructorParameters<typeof Channel>[0] = {}): Channel {
  const ch = new Channel({ name: 'sec', dir: dir.path, transport: 'unix', ...options });
  open.push(ch);
  return ch;
}

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

describe('another OS user', () => {
  const asRoot = process.getuid?.() === 0 ? test : test.skip;
  if (process.getuid?.() !== 0) {
    test('(skipped: the other-uid tests need root to start a process as uid 65534)', () => {});
  }

  asRoot(
    'cannot connect: the 0700 directory stops it (EACCES), and so does the 0600 socket alone; the hub is unaffected',
    async () => {
      const hub = channel();
      await hub.connect();
      const friend = channel();
      await friend.connect();
      const path = new UnixEndpoint('sec', dir.path).path;

      expect(await connectAs(65534, path)).toBe('EACCES');
      // Even with the directory opened for traversal, the socket's own mode refuses the stranger.
      chmodSync(dir.path, 0o711);
      try {
        expect(await connectAs(65534, path)).toBe('EACCES');
      } finally {
        chmodSync(dir.path, 0o700);
      }

      expect(hub.peers).toEqual([1, 2]);
      const got: string[] = [];
      friend.on('ping', (_from: number, s: string) => got.push(s));
      hub.to(2).emit('ping', 'still here');
      await until(() => got.length === 1, 5000);
      expect(got).toEqual(['still here']);
      expect(hub.isHub).toBe(true);
    },
  );
});

/** A real socket relay between a peer and the hub that keeps every byte in each direction. */
async function relay(
  hubPath: string,
  listenPath: string,
): Promise<{ toHub: Buffer[]; toPeer: Buffer[] }> {
  const captured = { toHub: [] as Buffer[], toPeer: [] as Buffer[] };
  const server = createServer((peer: Socket) => {
    const upstream = createConnection(hubPath);
    peer.on('data', (d) => {
      captured.toHub.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      captured.toPeer.push(Buffer.from(d));
      peer.write(d);
    });
    peer.on('close', () => upstream.destroy());
    upstream.on('close', () => peer.destroy());
    peer.on('error', () => {});
    upstream.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(listenPath, r));
  return captured;
}

function framesOf(chunks: Buffer[]): Buffer[] {
  return new FrameDecoder(64 * 1024 * 1024).push(Buffer.concat(chunks));
}

describe('the shared secret', () => {
  const secret = 'correct horse battery staple';

  test('never crosses the socket, in any encoding, in either direction', async () => {
    const hub = channel({ secret });
    await hub.connect();
    const side = tempDir();
    try {
      const wire = await relay(
        new UnixEndpoint('sec', dir.path).path,
        new UnixEndpoint('sec', side.path).path,
      );
      const peer = new Channel({ name: 'sec', dir: side.path, secret, transport: 'unix' });
      open.push(peer);
      await peer.connect();
      expect(peer.peers).toEqual([1, 2]);
      const got: string[] = [];
      hub.on('hello', (_from: number, s: string) => got.push(s));
      peer.to(1).emit('hello', 'through the relay');
      await until(() => got.length === 1, 5000);

      const bytes = Buffer.concat([...wire.toHub, ...wire.toPeer]);
      expect(wire.toHub.length).toBeGreaterThan(0);
      expect(wire.toPeer.length).toBeGreaterThan(0);
      const raw = Buffer.from(secret);
      for (const form of [
        raw,
        Buffer.from(raw.toString('hex')),
        Buffer.from(raw.toString('hex').toUpperCase()),
        Buffer.from(raw.toString('base64')),
        Buffer.from(raw.toString('base64url')),
        Buffer.from(JSON.stringify(secret)),
        Buffer.from(secret, 'utf16le'),
      ]) {
        expect(bytes.includes(form)).toBe(false);
      }
    } finally {
      side.remove();
    }
  });

  // Without a secret the peer gives up on the hello alone; with a wrong one the hub refuses it.
  test.each([
    ['no secret', undefined, [FrameType.HubHello]],
    ['a wrong secret', 'guess', [FrameType.HubHello, FrameType.Reject]],
  ])(
    'a peer with %s gets AuthenticationError and never a frame beyond the hello and the refusal',
    async (_what, given, expectedTypes) => {
      const hub = channel({ secret });
      await hub.connect();
      const friend = channel({ secret });
      await friend.connect();
      const side = tempDir();
      try {
        const wire = await relay(
          new UnixEndpoint('sec', dir.path).path,
          new UnixEndpoint('sec', side.path).path,
        );
        // Traffic while the stranger knocks: none of it may reach the stranger.
        const chatter = setInterval(() => hub.to('all').emit('news', 'for members only'), 2);
        const stranger = new Channel({
          name: 'sec',
          transport: 'unix',
          dir: side.path,
          secret: given,
          connectTimeoutMs: 5000,
        });
        open.push(stranger);
        const err = await stranger.connect().catch((e: unknown) => e);
        clearInterval(chatter);
        expect(err).toBeInstanceOf(AuthenticationError);
        expect((err as AuthenticationError).code).toBe('ERR_IPC_AUTH_FAILED');
        const types = framesOf(wire.toPeer).map((f) => f[OFF_TYPE]);
        expect(types).toEqual(expectedTypes);
        if (given !== undefined) {
          const reject = readJson<{ reason: string }>(framesOf(wire.toPeer)[1]!);
          expect(reject.reason).toBe('auth-failed');
        }
        expect(hub.peers).toEqual([1, 2]);
      } finally {
        side.remove();
      }
    },
  );
});

describe('modes after a takeover of a stale socket', () => {
  test('a hub killed with SIGKILL leaves its socket; the next hub replaces it, 0700 directory and 0600 sockets', async () => {
    const sub = `${dir.path}/ch`;
    const dead = await Proc.start('peer.js', {
      PEER_OPTIONS: JSON.stringify({ name: 'sec', dir: sub, transport: 'unix' }),
    });
    await dead.call('connect');
    const path = new UnixEndpoint('sec', sub).path;
    const staleIno = lstatSync(path).ino;
    await dead.kill('SIGKILL');
    // The dead hub's files are still there: this is the stale socket to take over.
    expect(lstatSync(path).isSocket()).toBe(true);

    const hub = channel({ dir: sub });
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
});
