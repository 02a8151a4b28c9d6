/**
 * Runs redis-server for the bench and stops it when this process's stdin closes, which
 * happens however the orchestrator ends (even SIGKILL). Prints "ready <redis pid>" once Redis
 * answers PING.
 * argv: <redis-server binary> <port> <working directory> <appendfsync: always | everysec>
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';

const [binary, port, dir, fsync] = process.argv.slice(2);
if (binary === undefined || port === undefined || dir === undefined || fsync === undefined) {
  console.error('usage: redis-guard <redis-server> <port> <dir> <always|everysec>');
  process.exit(2);
}

// Loopback TCP, as a Redis on another machine would be reached; the append-only file fsynced
// as the federation's guarantees need it (every write, or every second when asked).
const redis = spawn(
  binary,
  [
    '--port',
    port,
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    fsync,
    '--dir',
    dir,
    '--loglevel',
    'warning',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
redis.on('exit', (code, signal) => process.exit(signal === 'SIGTERM' ? 0 : (code ?? 1)));

const stop = () => redis.kill('SIGTERM');
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);

/** Ready once this Redis answers PING (not merely once something accepts on the port). */
function probe(): void {
  const s = connect(Number(port), '127.0.0.1');
  let reply = '';
  s.once('connect', () => s.write('PING\r\n'));
  s.on('data', (d: Buffer) => {
    reply += d.toString();
    if (!reply.includes('\r\n')) return;
    s.destroy();
    if (reply.startsWith('+PONG')) console.log(`ready ${redis.pid}`);
    else setTimeout(probe, 20); // -LOADING while it reads its append-only file
  });
  s.once('error', () => setTimeout(probe, 20));
}
probe();
