/**
 * `nestjs-ipc-channel/terminus`: the channel's health for @nestjs/terminus (11 or 12). Only
 * this entry point loads @nestjs/terminus.
 */
export { IpcHealthIndicator } from './ipc-health.indicator.js';
export type { IpcHealthDetails, IpcHealthOptions } from './ipc-health.js';
