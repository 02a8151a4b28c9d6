/**
 * Runs redis-server for the bench and stops it when this process's stdin closes, which
 * happens however the orchestrator ends (even SIGKILL). Prints "ready <redis pid>" once Redis
 * answers.
 * argv: <redis-server binary> <unix socket path> <working directory>
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';

const [binary, socket, dir] = process.argv.slice(2);
if (binary === undefined || socket === undefined || dir === undefined) {
  console.error('usage: redis-guard <redis-server> <socket> <dir>');
  process.exit(2);
}

const redis = spawn(
  binary,
  [
    '--port',
    '0',
    '--unixsocket',
    socket,
    '--unixsocketperm',
    '700',
    '--save',
    '',
    '--appendonly',
    'no',
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

function probe(): void {
  const s = connect(socket!);
  s.once('connect', () => {
    s.end();
    console.log(`ready ${redis.pid}`);
  });
  s.once('error', () => setTimeout(probe, 20));
}
probe();
