export { IPC_MODULE_OPTIONS, IPC_TRANSPORT } from './ipc.constants.js';
export { IpcModule } from './module/ipc.module.js';
export type {
  IpcModuleAsyncOptions,
  IpcModuleOptions,
} from './module/ipc-module-options.interface.js';
export { IpcClient } from './client/ipc.client.js';
export { IpcClientTarget, type IpcSendResult } from './client/ipc-client.target.js';
export { IpcContext, type IpcContextArgs, type IpcMetadata } from './server/ipc.context.js';
export * from './ipc.errors.js';
export type {
  IpcClientOptions,
  IpcEvents,
  IpcServerOptions,
  IpcStatus,
} from './ipc-options.interface.js';
export type { IpcReply } from './client/ipc-reply.interface.js';
export { IpcServer } from './server/ipc.server.js';
export { IpcEventPattern, type IpcPattern } from './server/ipc-event-pattern.decorator.js';
export { IpcOptionsMismatchError, type OptionDifference } from './shared/options-mismatch.error.js';
export { IpcLeadership } from './leadership/ipc-leadership.service.js';
export { LeaderOnly } from './leadership/leader-only.decorator.js';
export {
  type IpcLeadershipState,
  type LeadershipOptions,
  leadership,
  runOnLeader,
} from './leadership/run-on-leader.js';
export {
  IPC_EXCEPTION_FILTER_OPTIONS,
  type IpcErrorBody,
  IpcExceptionFilter,
  type IpcExceptionFilterOptions,
} from './http/ipc-exception.filter.js';
export {
  type IpcMessageHooks,
  type IpcOutgoingMessage,
  type IpcReceiveScope,
  type IpcSendScope,
  registerIpcMessageHooks,
} from './ipc-message-hooks.js';
