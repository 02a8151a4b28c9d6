import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Channel } from '../../channel/channel.js';
import type { ChannelOptions } from '../../channel/channel-options.js';
import { acquireSharedChannel, releaseSharedChannel } from '../../nest/shared/channel-registry.js';
import type { SharedChannel } from '../../nest/shared/shared-channel.js';
import { type IpcAdapterOptions, createAdapter } from '../ipc.adapter.js';

/** The socket.io types as @nestjs/platform-socket.io declares them (its copy may be another). */
type NestIoServer = ReturnType<IoAdapter['createIOServer']>;
type NestIoOptions = Parameters<IoAdapter['createIOServer']>[1];
type NestAdapterArg = Parameters<NestIoServer['adapter']>[0];

/**
 * Options of `new IpcIoAdapter()`: the Channel options of the channel to share rooms over (the
 * same ones as the app's IpcServer, whose connection it then shares), or a `channel` the caller
 * connects and closes, plus the adapter's heartbeat options.
 */
export interface IpcIoAdapterOptions extends ChannelOptions, IpcAdapterOptions {
  /** A Channel of the caller's; without it the adapter joins (and leaves) the channel itself. */
  channel?: Channel;
}

/**
 * Nest's socket.io adapter, with rooms and broadcasts shared across every process of the
 * channel: `server.to(room).emit(...)` in a `@WebSocketGateway` of one worker reaches the
 * room's clients on all of them, and `fetchSockets()` and `serverSideEmit` span the workers.
 *
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new IpcIoAdapter(app, { name: 'chat' }));
 * await app.listen(3000);
 * ```
 *
 * Without a `channel` it joins the channel named by the options (the app's IpcServer and
 * IpcClients with the same options share that connection and peer id) when Nest creates the
 * first gateway's server, and leaves it when the app closes.
 */
export class IpcIoAdapter extends IoAdapter {
  private readonly ipcLogger = new Logger(IpcIoAdapter.name);
  private readonly channelOptions: ChannelOptions;
  private readonly adapterOptions: IpcAdapterOptions;
  private readonly given: Channel | undefined;
  private shared: SharedChannel | undefined;

  constructor(
    appOrHttpServer?: INestApplicationContext | object,
    options: IpcIoAdapterOptions = {},
  ) {
    super(appOrHttpServer);
    const { channel, heartbeatInterval, heartbeatTimeout, ...channelOptions } = options;
    this.given = channel;
    this.channelOptions = channelOptions;
    this.adapterOptions = { heartbeatInterval, heartbeatTimeout };
  }

  /** The channel the rooms are shared over (joined once the first server was created). */
  get channel(): Channel | undefined {
    return this.given ?? this.shared?.channel;
  }

  override createIOServer(port: number, options?: NestIoOptions): NestIoServer {
    const server = super.createIOServer(port, options);
    // Nest may bring its own copy of socket.io: the adapter works with either (socket.io calls
    // it by shape), only their declarations differ.
    server.adapter(createAdapter(this.join(), this.adapterOptions) as unknown as NestAdapterArg);
    return server;
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    const shared = this.shared;
    this.shared = undefined;
    if (shared !== undefined) await releaseSharedChannel(shared);
  }

  private join(): Channel {
    if (this.given !== undefined) return this.given;
    if (this.shared === undefined) {
      this.shared = acquireSharedChannel(this.channelOptions);
      // Broadcasts made before the join wait in the channel and go out once it has an id.
      this.shared.connect().catch((error: unknown) => {
        this.ipcLogger.error(
          `socket.io rooms are not shared across processes: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    }
    return this.shared.channel;
  }
}
