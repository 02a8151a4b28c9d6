export * from './channel/index.js';
export * from './nest/index.js';
