import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import {
  AuthenticationError,
  Channel,
  EndpointUnavailableError,
  HandshakeError,
  IdTakenError,
  UnsafeDirectoryError,
} from '../../src/index.js';
import { FIXTURES, TRANSPORT, publicEndpoint, channelSandbox } from '../helpers/processes.js';

const sandbox = channelSandbox();

function channel(options: ConstructorParameters<typeof Channel>[0] = {}): Channel {
  const ch = new Channel({ name: 'sec', dir: sandbox.dir.path, ...options });
  sandbox.open.push(ch);
  return ch;
}

describe('the socket directory', () => {
  test('a directory other users can write to (0777) is refused with an error that says how to fix it', async () => {
    const wide = `${sandbox.dir.path}/wide`;
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
    const real = `${sandbox.dir.path}/real`;
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, `${sandbox.dir.path}/link`);
    const err = await channel({ dir: `${sandbox.dir.path}/link` })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeDirectoryError);
    expect((err as Error).message).toContain('symbolic link');
  });

  const asRoot = process.getuid?.() === 0 ? test : test.skip;
  asRoot('a directory owned by another user is refused', async () => {
    const foreign = `${sandbox.dir.path}/foreign`;
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    const err = await channel({ dir: foreign })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeDirectoryError);
    expect((err as Error).message).toContain('belongs to uid 65534');
  });

  test(`a missing directory is created 0700 and the ${TRANSPORT === 'tcp' ? 'endpoint file' : 'socket'} is 0600`, async () => {
    const fresh = `${sandbox.dir.path}/a/b`;
    const ch = channel({ dir: fresh });
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
      writeFileSync(`${sandbox.dir.path}/file`, '');
      const where = `${sandbox.dir.path}/file/sub`;
      const err = await channel({ dir: where, transport })
        .connect()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EndpointUnavailableError);
      expect((err as EndpointUnavailableError).code).toBe('ERR_IPC_NO_ENDPOINT');
      expect((err as EndpointUnavailableError).dir).toBe(where);
      expect((err as Error).message).toContain(`in ${where}: the directory cannot be created`);
      expect((err as Error).message).toContain("NESTJS_IPC_DIR or the 'dir' option");
    });
  }

  test('a directory this user cannot write fails connect() at once with EndpointUnavailableError', async () => {
    const locked = `${sandbox.dir.path}/locked`;
    mkdirSync(locked, { mode: 0o700 });
    if (process.getuid?.() !== 0) {
      chmodSync(locked, 0o500);
      const err = await channel({ dir: locked })
        .connect()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EndpointUnavailableError);
      expect((err as Error).message).toContain(`in ${locked}: the directory is not writable`);
      return;
    }
    // root writes anywhere: run the check as an unprivileged user who owns a read-only directory.
    chmodSync(sandbox.dir.path, 0o711);
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
