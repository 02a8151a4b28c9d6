/**
 * A run-once job that emits to a socket.io room of the running app without running a socket.io
 * server: `node sample/dist/socket-io/announce.js lobby "Deploy finished"`. It joins the app's
 * channel as one more peer, emits, and exits once the workers have the message.
 *
 * Environment: IPC_CHANNEL (default `pm2:cache-api`, the channel of the PM2 app), NESTJS_IPC_DIR
 * (as for the workers).
 */
import { Channel } from 'nestjs-ipc-channel';
import { IpcEmitter } from 'nestjs-ipc-channel/socket.io';
import type { Said } from './rooms.gateway.js';

const [room = 'lobby', text = 'hello from a run-once job'] = process.argv.slice(2);
const channel = new Channel({ name: process.env.IPC_CHANNEL || 'pm2:cache-api' });
await channel.connect();
const said: Said = { text, from: channel.id };
new IpcEmitter(channel).to(room).emit('said', said);
// close() resolves once every worker's process has read what was emitted.
await channel.close();
console.log(JSON.stringify({ room, said }));
