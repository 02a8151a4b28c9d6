export { IPC_TRANSPORT } from './ipc.constants.js';
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
export { IpcLeadership } from './leadership/ipc-leadership.service.js';
export { LeaderOnly } from './leadership/leader-only.decorator.js';
export {
  type IpcLeadershipState,
  type LeadershipOptions,
  leadership,
  runOnLeader,
} from './leadership/run-on-leader.js';
export {
  type IpcMessageHooks,
  type IpcOutgoingMessage,
  type IpcReceiveScope,
  type IpcSendScope,
  registerIpcMessageHooks,
} from './ipc-message-hooks.js';
