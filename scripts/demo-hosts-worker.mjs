/**
 * One worker of the hosts demo (scripts/demo-hosts.mjs), run by PM2 as a cluster on each
 * simulated host. Its channel is federated over Redis: DEMO_HOST names its host, DEMO_REDIS is
 * the Redis URL, NESTJS_IPC_DIR its host's socket directory. Under PM2 the channel is named
 * after the app and the peer id is NODE_APP_INSTANCE + 1, as for any PM2 app.
 *
 * It answers whoever asks, on any host: `invalidate` (confirmed with `invalidated`), `stats?`
 * (answered with `stats`), `tick` (confirmed with `tock`).
 */
import { Channel } from '../dist/channel/index.js';

const host = process.env.DEMO_HOST;
const channel = new Channel({ federation: { redis: process.env.DEMO_REDIS, host } });
let invalidations = 0;
let ticks = 0;

const stats = () => ({
  host,
  id: channel.id,
  pid: process.pid,
  isHub: channel.isHub,
  isLeader: channel.isLeader,
  epoch: channel.epoch,
  hosts: channel.hosts,
  peers: channel.peers,
  invalidations,
  ticks,
});

channel.on('invalidate', (sender, ref) => {
  invalidations++;
  channel.to(sender).emit('invalidated', ref, { host, id: channel.id, pid: process.pid });
});
channel.on('stats?', (sender, ref) => channel.to(sender).emit('stats', ref, stats()));
channel.on('tick', (sender, n) => {
  ticks++;
  channel.to(sender).emit('tock', n, { host, id: channel.id, pid: process.pid });
});
channel.on('error', (e) => console.error(`worker ${channel.id} on ${host}: ${e.message}`));

await channel.connect();
console.log(`worker ${channel.id} (pid ${process.pid}) on host ${host} joined '${channel.name}'`);

// PM2 stops a worker with SIGINT: leave the channel cleanly (hand the hub over, deliver what was sent).
const leave = () => channel.close().finally(() => process.exit(0));
process.once('SIGINT', leave);
process.once('SIGTERM', leave);
