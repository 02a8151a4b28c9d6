/**
 * The Nest side of the socket.io integration: a `@WebSocketGateway` adapter. Apart from the
 * plain adapter so that a socket.io server without Nest loads no Nest package.
 */
export { IpcIoAdapter, type IpcIoAdapterOptions } from './ipc-io.adapter.js';
