/**
 * What docs/channel.md promises on security, for channels in this process: the socket
 * directory is checked before use, the secret gates every frame and never crosses the wire, and
 * the handshake refuses what does not belong to the channel.
 */
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import {
  AuthenticationError,
  EndpointUnavailableError,
  HandshakeError,
  IdTakenError,
  UnsafeDirectoryError,
} from '../../src/index.js';
import { UnixEndpoint } from '../../src/channel/endpoint/unix-endpoint.js';
import { FrameDecoder } from '../../src/channel/wire/frame-decoder.js';
import { FrameType, OFF_TYPE, readJson } from '../../src/channel/wire/frame.js';
import { TRANSPORT, publicEndpoint } from '../helpers/endpoint.js';
import { sandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';
import { rejection } from '../helpers/thrown.js';

const box = sandbox({ name: 'sec' });

describe('the socket directory', () => {
  test('a directory other users can write to (0777) is refused with an error that says how to fix it', async () => {
    const wide = `${box.dir}/wide`;
    mkdirSync(wide);
    chmodSync(wide, 0o777);
    const ch = box.channel({ dir: wide });
    const err = await rejection(ch.connect());
    expect(err).toBeInstanceOf(UnsafeDirectoryError);
    expect((err as UnsafeDirectoryError).code).toBe('ERR_IPC_UNSAFE_DIR');
    expect((err as Error).message).toContain('mode 0777');
    expect((err as Error).message).toContain(`chmod 700 ${wide}`);
    expect(readdirSync(wide)).toEqual([]);
  });

  test('a symbolic link in place of the directory is refused', async () => {
    const real = `${box.dir}/real`;
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, `${box.dir}/link`);
    const err = await rejection(box.channel({ dir: `${box.dir}/link` }).connect());
    expect(err).toBeInstanceOf(UnsafeDirectoryError);
    expect((err as Error).message).toContain('symbolic link');
  });

  const asRoot = process.getuid?.() === 0 ? test : test.skip;
  asRoot('a directory owned by another user is refused', async () => {
    const foreign = `${box.dir}/foreign`;
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    const err = await rejection(box.channel({ dir: foreign }).connect());
    expect(err).toBeInstanceOf(UnsafeDirectoryError);
    expect((err as Error).message).toContain('belongs to uid 65534');
  });

  test(`a missing directory is created 0700 and the ${TRANSPORT === 'tcp' ? 'endpoint file' : 'socket'} is 0600`, async () => {
    const fresh = `${box.dir}/a/b`;
    const ch = box.channel({ dir: fresh });
    await ch.connect();
    expect(lstatSync(fresh).mode & 0o777).toBe(0o700);
    const published = lstatSync(publicEndpoint(fresh));
    expect(TRANSPORT === 'tcp' ? published.isFile() : published.isSocket()).toBe(true);
    expect(published.mode & 0o777).toBe(0o600);
  });
});

describe('no endpoint can be created', () => {
  for (const transport of ['unix', 'tcp'] as const) {
    test(`${transport}: a directory that cannot be created fails connect() at once with EndpointUnavailableError naming it and the fix`, async () => {
      writeFileSync(`${box.dir}/file`, '');
      const where = `${box.dir}/file/sub`;
      const err = await rejection(box.channel({ dir: where, transport }).connect());
      expect(err).toBeInstanceOf(EndpointUnavailableError);
      expect((err as EndpointUnavailableError).code).toBe('ERR_IPC_NO_ENDPOINT');
      expect((err as EndpointUnavailableError).dir).toBe(where);
      expect((err as Error).message).toContain(`in ${where}: the directory cannot be created`);
      expect((err as Error).message).toContain("NESTJS_IPC_DIR or the 'dir' option");
    });
  }
});

/**
 * A real socket relay between a peer in `side` and the hub in the sandbox (both on Unix
 * sockets) that keeps every byte in each direction.
 */
const relays: Server[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((s) => new Promise((r) => s.close(r))));
});
async function relay(side: string): Promise<{ toHub: Buffer[]; toPeer: Buffer[] }> {
  const hubPath = new UnixEndpoint('sec', box.dir).path;
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
  relays.push(server);
  await new Promise<void>((r) => server.listen(new UnixEndpoint('sec', side).path, r));
  return captured;
}

function framesOf(chunks: Buffer[]): Buffer[] {
  return new FrameDecoder(64 * 1024 * 1024).push(Buffer.concat(chunks));
}

describe('the shared secret', () => {
  test('peers with the same secret join; without it or with another one they get AuthenticationError', async () => {
    const hub = box.channel({ secret: 's3cret' });
    await hub.connect();
    const friend = box.channel({ secret: 's3cret' });
    await friend.connect();
    expect(friend.peers).toEqual([1, 2]);

    const none = await rejection(box.channel().connect());
    expect(none).toBeInstanceOf(AuthenticationError);
    expect((none as Error).message).toContain('requires a secret');

    const wrong = await rejection(box.channel({ secret: 'guess' }).connect());
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect((wrong as AuthenticationError).code).toBe('ERR_IPC_AUTH_FAILED');
    expect(hub.peers).toEqual([1, 2]);
  });

  test('never crosses the socket, in any encoding, in either direction', async () => {
    const secret = 'correct horse battery staple';
    const hub = box.channel({ secret, transport: 'unix' });
    await hub.connect();
    const side = tempDir();
    try {
      const wire = await relay(side.path);
      const peer = box.channel({ dir: side.path, secret, transport: 'unix' });
      await peer.connect();
      expect(peer.peers).toEqual([1, 2]);
      const got: string[] = [];
      hub.on('hello', (_from: number, s: string) => got.push(s));
      peer.to(1).emit('hello', 'through the relay');
      await until(() => got.length === 1);

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
      const secret = 'correct horse battery staple';
      const hub = box.channel({ secret, transport: 'unix' });
      await hub.connect();
      await box.channel({ secret, transport: 'unix' }).connect();
      const side = tempDir();
      try {
        const wire = await relay(side.path);
        // Traffic while the stranger knocks: none of it may reach the stranger.
        const chatter = setInterval(() => hub.to('all').emit('news', 'for members only'), 2);
        const stranger = box.channel({ dir: side.path, secret: given, transport: 'unix' });
        const err = await rejection(stranger.connect());
        clearInterval(chatter);
        expect(err).toBeInstanceOf(AuthenticationError);
        expect((err as AuthenticationError).code).toBe('ERR_IPC_AUTH_FAILED');
        const frames = framesOf(wire.toPeer);
        expect(frames.map((f) => f[OFF_TYPE])).toEqual(expectedTypes);
        if (given !== undefined) {
          expect(readJson<{ reason: string }>(frames[1]!).reason).toBe('auth-failed');
        }
        expect(hub.peers).toEqual([1, 2]);
      } finally {
        side.remove();
      }
    },
  );

  test('a peer with a secret refuses a hub that has none', async () => {
    await box.channel().connect();
    const err = await rejection(box.channel({ secret: 'x' }).connect());
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toContain('has none');
  });
});

describe('the handshake', () => {
  test('another codec is refused with a clear reason', async () => {
    await box.channel().connect();
    const err = await rejection(box.channel({ codec: 'v8' }).connect());
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as HandshakeError).reason).toBe('codec-mismatch');
    expect((err as Error).message).toContain("uses the 'json' codec");
  });

  test('an explicit id held by a live peer fails connect() with IdTakenError', async () => {
    await box.channel({ id: 4 }).connect();
    const err = await rejection(box.channel({ id: 4 }).connect());
    expect(err).toBeInstanceOf(IdTakenError);
    expect((err as IdTakenError).code).toBe('ERR_IPC_ID_TAKEN');
    const ok = box.channel({ id: 5 });
    await ok.connect();
    expect(ok.peers).toEqual([4, 5]);
  });
});
