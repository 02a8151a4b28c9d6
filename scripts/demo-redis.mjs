/**
 * A private redis-server for the hosts demo (scripts/demo-hosts.mjs): a free loopback port, a
 * fresh temp directory, the append-only file fsynced on every write (what the federation's
 * guarantees across a Redis crash need), stopped and removed by stop().
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A loopback port nobody listens on now (the OS picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether a Redis answers PING on the port. */
function pong(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let reply = '';
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      reply += d;
      if (!reply.includes('\r\n')) return;
      s.destroy();
      resolve(reply.startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts it; rejects with what to do when redis-server is missing or does not come up. */
export async function startRedis({ timeoutMs = 10_000 } = {}) {
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (version.error !== undefined || version.status !== 0) {
    throw new Error(
      'redis-server is not installed: apt-get install -y redis-server (or brew install redis), then run the demo again.',
    );
  }
  const port = await freePort();
  const dir = mkdtempSync('/tmp/ipc-demo-redis-');
  const fsync = 'always';
  const child = spawn(
    'redis-server',
    // prettier-ignore
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
      '--appendonly', 'yes', '--appendfsync', fsync, '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let printed = '';
  child.stderr.on('data', (d) => (printed += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await pong(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on port ${port}: ${printed.trim()}`);
    }
    await sleep(20);
  }
  const v = /v=(\S+)/.exec(version.stdout)?.[1] ?? '';
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    description: `redis-server ${v} on 127.0.0.1:${port}, appendonly yes, appendfsync ${fsync}`,
    stop,
  };
}
