export {
  type IpcAdapterFactory,
  type IpcAdapterOptions,
  IpcAdapter,
  createAdapter,
} from './ipc.adapter.js';
export { IpcBroadcastOperator, IpcEmitter } from './ipc.emitter.js';
