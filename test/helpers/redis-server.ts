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
 * INFO. Fails (never skips) when redis-server is not installed.
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
  // Another process may take the free port before redis-server binds it: then try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(port, opts.password);
    } catch (e) {
      if (!(e instanceof PortTakenError) || attempt === 5) throw e;
    }
  }
}

/** redis-server could not have the port: someone else listens there. */
class PortTakenError extends Error {}

async function launch(port: number, password: string | undefined): Promise<RedisServer> {
  const dir = mkdtempSync('/tmp/ipcr-');
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
    const pid = await waitForPid(port, password, exited);
    if (pid === proc.pid) return;
    proc.kill('SIGKILL');
    await exited;
    const text = output.join('');
    if (pid !== undefined || text.includes('Address already in use'))
      throw new PortTakenError(`port ${port} is taken`);
    throw new Error(`redis-server on port ${port} did not start:\n${text}`);
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

  try {
    await start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
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

/**
 * Asks for the server's pid (INFO server) until a server answers on `port`: that pid, or
 * undefined if the process exits or 15 s pass first. A pid not the child's means another
 * server has the port.
 */
async function waitForPid(
  port: number,
  password: string | undefined,
  exited: Promise<void>,
): Promise<number | undefined> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 15_000;
  while (!gone && Date.now() < deadline) {
    const pid = await askPid(port, password);
    if (pid !== undefined) return pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

/** One connection: AUTH when a password is set, then INFO server; the process_id it gives. */
function askPid(port: number, password: string | undefined): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (pid: number | undefined): void => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(1000, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      const pid = /process_id:(\d+)\r\n/.exec(reply);
      if (pid !== null) done(Number(pid[1]));
      else if (/^-|\r\n-/.test(reply)) done(undefined); // LOADING, or an error: ask again
    });
    socket.once('connect', () => {
      const auth = password === undefined ? '' : resp(['AUTH', password]);
      socket.write(auth + resp(['INFO', 'server']));
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
