import 'reflect-metadata';
// First: with SAMPLE_TRACE_FILE set, OpenTelemetry is set up before anything sends.
import './tracing/trace-if-asked.js';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { IpcClient, IpcServer } from 'nestjs-ipc-channel';
import { IpcIoAdapter } from 'nestjs-ipc-channel/socket.io/nest';
import { AppModule } from './app.module.js';
import { ipcOptions } from './ipc.options.js';

const logger = new Logger('Bootstrap');

/**
 * One worker: an HTTP API plus an IpcServer on the channel all workers share. Run it with PM2
 * (ecosystem.config.cjs), with node:cluster (cluster.js), or as several plain processes.
 */
async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn', 'log'] });
  app.connectMicroservice({ strategy: app.get(IpcServer) }, { inheritAppConfig: true });
  // socket.io rooms span the workers, over the IpcServer's connection (see src/socket-io).
  app.useWebSocketAdapter(new IpcIoAdapter(app, ipcOptions()));
  // PM2 stops a worker with SIGINT (reload, restart, stop): close gracefully, so the worker leaves
  // the channel, hands the hub over if it has it, and its peer id passes to its successor.
  app.enableShutdownHooks(['SIGINT', 'SIGTERM']);

  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  await app.listen(port, host);

  // Ready as soon as HTTP listens, *before* joining the channel. During `pm2 reload` the new
  // worker's peer id (NODE_APP_INSTANCE + 1) is still held by the worker it replaces, and PM2
  // stops that one only once the new one is ready: waiting for the id before saying ready would
  // stall every reload for `listen_timeout`. Requests that arrive meanwhile simply wait for the
  // join, and messages for the id are held by the hub until the new worker has it.
  process.send?.('ready');

  await app.startAllMicroservices();
  const ipc = app.get(IpcClient);
  await ipc.connect();
  logger.log(`worker ${ipc.id} (pid ${process.pid}) serves http://${host}:${port}`);
}

bootstrap().catch((error: unknown) => {
  // An ESM worker that throws while booting would stay "online" in PM2 with nothing running.
  logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
