import type { Deserializer, Serializer } from '@nestjs/microservices';
import type { ModuleMetadata } from '@nestjs/common';
import type { ChannelOptions } from '../../channel/channel-options.js';

/**
 * The options of `IpcModule.forRoot()`: the channel options, given once for the process's
 * IpcServer and IpcClient alike, plus what only one of them uses.
 */
export interface IpcModuleOptions extends ChannelOptions {
  /** The IpcClient fails a request with RequestTimeoutError after this many ms without an answer. */
  timeout?: number;
  /** Nest serializer hooks of the IpcServer (responses out, requests and events in). */
  server?: { serializer?: Serializer; deserializer?: Deserializer };
  /** Nest serializer hooks of the IpcClient (requests and events out, responses in). */
  client?: { serializer?: Serializer; deserializer?: Deserializer };
}

/** The options of `IpcModule.forRootAsync()`: a factory for IpcModuleOptions and what it needs. */
export interface IpcModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Returns the options (or a Promise of them); gets the `inject` providers as arguments. */
  useFactory: (...args: any[]) => IpcModuleOptions | Promise<IpcModuleOptions>;
  /** Providers passed to `useFactory`, in order. */
  inject?: any[];
}
