import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { REDIS_GUARD } from '../shared/paths.js';
import { forgetPid, trackPid } from './cleanup.js';

export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** How often Redis fsyncs its append-only file: every write, or once a second. */
export type RedisFsync = 'always' | 'everysec';

export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:<port>`, for ioredis. */
  url: string;
  /** What the table and latest.json say about it: version, address, persistence. */
  description: string;
  /** The guard's and redis-server's. */
  pids: number[];
  /** Empties it (FLUSHALL) between trials, so no trial reads another's streams or grows Redis. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** A loopback port nobody listens on now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}

/** One inline command, its first reply line returned (errors rejected). Enough for FLUSHALL. */
function command(port: number, text: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(
      () => s.destroy(new Error(`redis: '${text}' took over ${timeoutMs} ms`)),
      timeoutMs,
    );
    s.once('connect', () => s.write(`${text}\r\n`));
    s.on('data', (d: Buffer) => {
      reply += d.toString();
      const end = reply.indexOf('\r\n');
      if (end === -1) return;
      clearTimeout(timer);
      s.destroy();
      const line = reply.slice(0, end);
      if (line.startsWith('-')) reject(new Error(`redis: '${text}' failed: ${line.slice(1)}`));
      else resolve(line);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function version(binary: string): string {
  try {
    return /v=(\S+)/.exec(execFileSync(binary, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/**
 * A private redis-server on a free loopback TCP port, its data in the bench's own directory,
 * with the append-only file on (`appendfsync` as given; no RDB snapshots): the setup the
 * federation's guarantees across a Redis restart need. It runs under a small guard process
 * that stops it when the guard's stdin closes, so even a SIGKILLed orchestrator leaves no
 * redis-server behind.
 */
export async function startRedis(
  root: string,
  fsync: RedisFsync,
  timeoutMs = 10_000,
): Promise<RedisServer> {
  const binary = findOnPath('redis-server');
  if (binary === undefined) throw new Error('redis-server is not on PATH');
  const dir = join(root, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const guard: ChildProcess = spawn(
    process.execPath,
    [REDIS_GUARD, binary, String(port), dir, fsync],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  if (guard.pid !== undefined) trackPid(guard.pid);
  let printed = '';
  let redisPid = 0;
  guard.stderr!.on('data', (d: Buffer) => (printed += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server not ready: ${printed}`)),
      timeoutMs,
    );
    guard.stdout!.on('data', (d: Buffer) => {
      const ready = /ready (\d+)/.exec(d.toString());
      if (ready !== null) {
        redisPid = Number(ready[1]);
        // Killed directly if the bench is interrupted: a SIGKILLed guard cannot stop it.
        trackPid(redisPid);
        clearTimeout(timer);
        resolve();
      }
    });
    guard.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${printed}`));
    });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    description:
      `redis-server ${version(binary)} on 127.0.0.1:${port} (TCP), ` +
      `appendonly yes, appendfsync ${fsync}, data in ${dir}`,
    pids: [guard.pid ?? 0, redisPid],
    flush: async () => {
      await command(port, 'FLUSHALL');
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (guard.exitCode !== null) return resolve();
        guard.once('exit', () => {
          if (guard.pid !== undefined) forgetPid(guard.pid);
          forgetPid(redisPid);
          resolve();
        });
        guard.stdin!.end();
      }),
  };
}
