import {
  type DynamicModule,
  Inject,
  Module,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { type ChannelOptions, resolveOptions } from '../../channel/channel-options.js';
import { IpcClient } from '../client/ipc.client.js';
import { IPC_MODULE_OPTIONS } from '../ipc.constants.js';
import { IpcLeadership } from '../leadership/ipc-leadership.service.js';
import { IpcServer } from '../server/ipc.server.js';
import { pickChannelOptions } from '../shared/options-agreement.js';
import type { IpcModuleAsyncOptions, IpcModuleOptions } from './ipc-module-options.interface.js';

/**
 * The channel for a Nest app, configured in one place. It provides, to every module of the app
 * (it is global: a process has one connection to its channel, shared by its server and client):
 *
 * - `IpcClient`, injectable by its class, to send;
 * - `IpcServer`, to receive: `app.connectMicroservice({ strategy: app.get(IpcServer) })`;
 * - `IpcLeadership`, for run-once work.
 *
 * ```ts
 * @Module({ imports: [IpcModule.forRoot({ name: 'orders' })] })
 * export class AppModule {}
 * ```
 */
@Module({})
export class IpcModule implements OnApplicationShutdown {
  constructor(
    @Inject(IpcClient) private readonly client: IpcClient,
    @Inject(IpcServer) private readonly server: IpcServer,
  ) {}

  /** The module with these options. */
  static forRoot(options: IpcModuleOptions = {}): DynamicModule {
    return IpcModule.with({ provide: IPC_MODULE_OPTIONS, useValue: options }, []);
  }

  /** The module with options made by a factory that needs other providers (configuration). */
  static forRootAsync(options: IpcModuleAsyncOptions): DynamicModule {
    return IpcModule.with(
      {
        provide: IPC_MODULE_OPTIONS,
        useFactory: options.useFactory,
        inject: options.inject ?? [],
      },
      options.imports ?? [],
    );
  }

  private static with(optionsProvider: Provider, imports: DynamicModule['imports']): DynamicModule {
    return {
      module: IpcModule,
      global: true,
      imports,
      providers: [
        optionsProvider,
        {
          provide: IpcServer,
          useFactory: (o: IpcModuleOptions) => new IpcServer({ ...channelOptions(o), ...o.server }),
          inject: [IPC_MODULE_OPTIONS],
        },
        {
          provide: IpcClient,
          useFactory: (o: IpcModuleOptions) =>
            new IpcClient({ ...channelOptions(o), timeout: o.timeout, ...o.client }),
          inject: [IPC_MODULE_OPTIONS],
        },
        {
          provide: IpcLeadership,
          // Bad options fail here, at startup, rather than at the first send.
          useFactory: (o: IpcModuleOptions) =>
            IpcLeadership.forChannel(resolveOptions(channelOptions(o)).name),
          inject: [IPC_MODULE_OPTIONS],
        },
      ],
      exports: [IPC_MODULE_OPTIONS, IpcServer, IpcClient, IpcLeadership],
    };
  }

  /**
   * The app is shutting down: the client leaves. The server was closed with the microservice
   * before this hook runs; closing it again only ends one that was never connected.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.server.close();
    await this.client.close();
  }
}

/** The options that are the channel's, without those of the server or client alone. */
function channelOptions(options: IpcModuleOptions): ChannelOptions {
  return pickChannelOptions(options);
}
