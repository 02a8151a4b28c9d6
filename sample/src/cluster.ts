/**
 * The same app under plain node:cluster, without PM2: `node sample/dist/cluster.js`.
 * WORKERS sets how many (default 4); the workers share the HTTP port and find one another on
 * the channel (its default name is this script's path, the same for all of them).
 */
import cluster from 'node:cluster';

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS ?? 4);
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
} else {
  await import('./main.js');
}
