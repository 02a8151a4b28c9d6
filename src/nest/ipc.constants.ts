/**
 * The transport id of IpcServer. Use it to bind a handler to this transport only in a hybrid
 * app: `@MessagePattern('sum', IPC_TRANSPORT)`. `Symbol.for` keeps it one symbol even if two
 * copies of this package get loaded.
 */
export const IPC_TRANSPORT: unique symbol = Symbol.for('nestjs-ipc-channel');

/** The injection token of the options given to `IpcModule.forRoot()` / `forRootAsync()`. */
export const IPC_MODULE_OPTIONS: unique symbol = Symbol.for('nestjs-ipc-channel:module-options');
