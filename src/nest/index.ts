export { IPC_TRANSPORT } from './ipc.constants.js';
export { IpcClient } from './ipc.client.js';
export { IpcClientTarget, type IpcSendResult } from './ipc-client.target.js';
export { IpcContext, type IpcContextArgs, type IpcMetadata } from './ipc.context.js';
export * from './ipc.errors.js';
export type {
  IpcClientOptions,
  IpcEvents,
  IpcServerOptions,
  IpcStatus,
} from './ipc-options.interface.js';
export type { IpcReply } from './ipc-reply.interface.js';
export { IpcServer } from './ipc.server.js';
export { IpcLeadership } from './ipc-leadership.service.js';
export { LeaderOnly } from './leader-only.decorator.js';
export {
  type IpcLeadershipState,
  type LeadershipOptions,
  leadership,
  runOnLeader,
} from './run-on-leader.js';
