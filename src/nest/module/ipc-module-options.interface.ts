import type { ModuleMetadata } from '@nestjs/common';
import type { ChannelOptions } from '../../channel/channel-options.js';
import type { IpcClientOptions, IpcServerOptions } from '../ipc-options.interface.js';

/**
 * The options of `IpcModule.forRoot()`: the channel options, given once for the process's
 * IpcServer and IpcClient alike, plus what only one of them uses.
 */
export interface IpcModuleOptions extends ChannelOptions {
  /** The IpcClient fails a request with RequestTimeoutError after this many ms without an answer. */
  timeout?: number;
  /** What only the IpcServer takes: Nest's serializer hooks (responses out, requests in). */
  server?: Omit<IpcServerOptions, keyof ChannelOptions>;
  /** What only the IpcClient takes: its serializer hooks (requests out, responses in), ... */
  client?: Omit<IpcClientOptions, keyof ChannelOptions>;
}

/** The options of `IpcModule.forRootAsync()`: a factory for IpcModuleOptions and what it needs. */
export interface IpcModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Returns the options (or a Promise of them); gets the `inject` providers as arguments. */
  useFactory: (...args: any[]) => IpcModuleOptions | Promise<IpcModuleOptions>;
  /** Providers passed to `useFactory`, in order. */
  inject?: any[];
}
