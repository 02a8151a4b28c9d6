import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import {
  AuthenticationError,
  Channel,
  HandshakeError,
  IdTakenError,
  UnsafeDirectoryError,
} from '../../src/index.js';
import { tempDir } from '../helpers/processes.js';

let dir: ReturnType<typeof tempDir>;
const open: Channel[] = [];
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  dir.remove();
});

function channel(options: ConstructorParameters<typeof Channel>[0] = {}): Channel {
  const ch = new Channel({ name: 'sec', dir: dir.path, ...options });
  open.push(ch);
  return ch;
}

describe('the socket directory', () => {
  test('a directory other users can write to (0777) is refused with an error that says how to fix it', async () => {
    const wide = `${dir.path}/wide`;
    mkdirSync(wide);
    chmodSync(wide, 0o777);
    const ch = channel({ dir: wide });
    const err = await ch.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeDirectoryError);
    expect((err as UnsafeDirectoryError).code).toBe('ERR_IPC_UNSAFE_DIR');
    expect((err as Error).message).toContain('mode 0777');
    expect((err as Error).message).toContain(`chmod 700 ${wide}`);
    expect(readdirSync(wide)).toEqual([]);
  });

  test('a symbolic link in place of the directory is refused', async () => {
    const real = `${dir.path}/real`;
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, `${dir.path}/link`);
    const err = await channel({ dir: `${dir.path}/link` })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeDirectoryError);
    expect((err as Error).message).toContain('symbolic link');
  });

  const asRoot = process.getuid?.() === 0 ? test : test.skip;
  asRoot('a directory owned by another user is refused', async () => {
    const foreign = `${dir.path}/foreign`;
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    const err = await channel({ dir: foreign })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeDirectoryError);
    expect((err as Error).message).toContain('belongs to uid 65534');
  });

  test('a missing directory is created 0700 and the socket is 0600', async () => {
    const fresh = `${dir.path}/a/b`;
    const ch = channel({ dir: fresh });
    await ch.connect();
    expect(lstatSync(fresh).mode & 0o777).toBe(0o700);
    const sock = readdirSync(fresh).find((f) => f.endsWith('.sock'))!;
    expect(lstatSync(`${fresh}/${sock}`).isSocket()).toBe(true);
    expect(lstatSync(`${fresh}/${sock}`).mode & 0o777).toBe(0o600);
  });
});

describe('the shared secret', () => {
  test('peers with the same secret join; without it or with another one they get AuthenticationError', async () => {
    const hub = channel({ secret: 's3cret' });
    await hub.connect();
    const friend = channel({ secret: 's3cret' });
    await friend.connect();
    expect(friend.peers).toEqual([1, 2]);

    const none = await channel()
      .connect()
      .catch((e: unknown) => e);
    expect(none).toBeInstanceOf(AuthenticationError);
    expect((none as Error).message).toContain('requires a secret');

    const wrong = await channel({ secret: 'guess' })
      .connect()
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect((wrong as AuthenticationError).code).toBe('ERR_IPC_AUTH_FAILED');
    expect(hub.peers).toEqual([1, 2]);
  });

  test('a peer with a secret refuses a hub that has none', async () => {
    await channel().connect();
    const err = await channel({ secret: 'x' })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toContain('has none');
  });
});

describe('the handshake', () => {
  test('another codec is refused with a clear reason', async () => {
    await channel().connect();
    const err = await channel({ codec: 'v8' })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as HandshakeError).reason).toBe('codec-mismatch');
    expect((err as Error).message).toContain("uses the 'json' codec");
  });

  test('an explicit id held by a live peer fails connect() with IdTakenError', async () => {
    await channel({ id: 4 }).connect();
    const err = await channel({ id: 4 })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdTakenError);
    expect((err as IdTakenError).code).toBe('ERR_IPC_ID_TAKEN');
    const ok = channel({ id: 5 });
    await ok.connect();
    expect(ok.peers).toEqual([4, 5]);
  });
});
