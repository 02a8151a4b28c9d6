import { Logger } from '@nestjs/common';
import type { ChannelOptions } from 'nestjs-ipc-channel';

/**
 * The channel options every worker uses, given to IpcModule for its IpcServer and its IpcClient
 * alike (they share one connection and one peer id).
 *
 * Nothing is required under PM2: the channel is named after the PM2 app (`pm2:cache-api`), each
 * instance gets peer id NODE_APP_INSTANCE + 1, and the socket lives in a private per-user
 * directory (`$NESTJS_IPC_DIR`, default `/tmp/nestjs-ipc-<uid>`). Outside PM2 the default name is
 * the entry script's path; set IPC_CHANNEL to choose one explicitly.
 */
export function ipcOptions(): ChannelOptions {
  const name = process.env.IPC_CHANNEL;
  return {
    ...(name ? { name } : {}),
    // The channel logs joins, hub changes and faults through Nest's logger, under this context.
    logger: new Logger('IpcChannel'),
  };
}
