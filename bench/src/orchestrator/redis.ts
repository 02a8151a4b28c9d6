import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
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

export interface RedisServer {
  socket: string;
  /** The guard's and redis-server's. */
  pids: number[];
  stop(): Promise<void>;
}

/**
 * A private redis-server on a Unix socket in the bench's own directory, no persistence. It
 * runs under a small guard process that stops it when the guard's stdin closes, so even a
 * SIGKILLed orchestrator leaves no redis-server behind.
 */
export async function startRedis(dir: string, timeoutMs = 10_000): Promise<RedisServer> {
  const binary = findOnPath('redis-server');
  if (binary === undefined) throw new Error('redis-server is not on PATH');
  const socket = join(dir, 'redis.sock');
  const guard: ChildProcess = spawn(process.execPath, [REDIS_GUARD, binary, socket, dir], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
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
    socket,
    pids: [guard.pid ?? 0, redisPid],
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
