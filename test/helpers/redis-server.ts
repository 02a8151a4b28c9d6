import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

/** The redis-server binary: REDIS_SERVER overrides the one on PATH. */
const BINARY = process.env.REDIS_SERVER ?? 'redis-server';

/** A redis-server of one test: its own port and directory, persistent across restarts. */
export interface RedisServer {
  readonly port: number;
  /** `redis://[:password@]127.0.0.1:<port>`, for ioredis. */
  readonly url: string;
  /** Its data directory (the append-only file lives there). */
  readonly dir: string;
  /** Stops it cleanly and starts it again on the same port and directory: the data is kept. */
  restart(): Promise<void>;
  /** Kills it with SIGKILL (a crash); the directory and its data stay for start(). */
  kill(): Promise<void>;
  /** Starts it again after kill() (or stop()), on the same port and directory. */
  start(): Promise<void>;
  /** Stops it (SIGTERM, which Redis handles as SHUTDOWN) and removes its directory. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts a redis-server on a free loopback port in a fresh temp directory, with every write
 * fsynced to the append-only file (`appendonly yes`, `appendfsync always`, no RDB snapshots), so
 * that restart() and kill()+start() lose nothing that was acknowledged. Resolves once it answers
 * PING. Fails (never skips) when redis-server is not installed.
 */
export async function startRedis(opts: { password?: string } = {}): Promise<RedisServer> {
  const found = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (found.error !== undefined || found.status !== 0) {
    throw new Error(
      `redis-server is not installed or not on PATH (${found.error?.message ?? found.stderr}): ` +
        'install it (apt-get install -y redis-server, brew install redis) or set REDIS_SERVER ' +
        'to its path; the federation tests need a real Redis.',
    );
  }
  installExitHook();
  const port = await freePort();
  const dir = mkdtempSync('/tmp/ipcr-');
  const password = opts.password;
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`;
  let child: ChildProcess | undefined;

  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--unixsocket',
    '',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--save',
    '',
    '--logfile',
    '',
    '--loglevel',
    'warning',
    ...(password === undefined ? [] : ['--requirepass', password]),
  ];

  const start = async (): Promise<void> => {
    if (child !== undefined) throw new Error(`redis-server on port ${port} is already running`);
    mkdirSync(dir, { recursive: true });
    const proc = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    proc.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
    proc.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
    child = proc;
    running.add(proc);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.once('exit', () => {
      running.delete(proc);
      if (child === proc) child = undefined;
    });
    proc.once('error', (e) => output.push(String(e)));
    const ready = await waitForPong(port, password, exited);
    if (!ready) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`redis-server on port ${port} did not start:\n${output.join('')}`);
    }
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (proc === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    proc.kill(signal);
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    dir,
    restart: async () => {
      await halt('SIGTERM');
      await start();
    },
    kill: () => halt('SIGKILL'),
    start,
    stop: async () => {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A loopback port nobody listens on now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Asks PING until +PONG (true), or until the process exits or 15 s pass (false). */
async function waitForPong(
  port: number,
  password: string | undefined,
  exited: Promise<void>,
): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 15_000;
  while (!gone && Date.now() < deadline) {
    if (await pingOnce(port, password)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

/** One connection: AUTH when a password is set, then PING; true when PONG comes back. */
function pingOnce(port: number, password: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('+PONG')) done(true);
      else if (reply.includes('-')) done(false); // LOADING, or an error: ask again
    });
    socket.once('connect', () => {
      const auth = password === undefined ? '' : resp(['AUTH', password]);
      socket.write(auth + resp(['PING']));
    });
  });
}

/** A command in RESP, so that a password with spaces or CR/LF goes through intact. */
function resp(parts: string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

/** A Jest worker that exits without stop() (a failed beforeAll) leaves no redis-server behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const proc of running) proc.kill('SIGKILL');
  });
}
