import 'reflect-metadata';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  EventPattern,
  MessagePattern,
  type MicroserviceOptions,
  Payload,
} from '@nestjs/microservices';
import type { BenchPayload } from '../shared/payload.js';
import type { Handlers } from './types.js';

/** Pattern names shared by every Nest competitor (and, later, the Nest IPC transport). */
export const REQUEST_PATTERN = 'rr';
export const EVENT_PATTERN = 'ev';

/** Nest instantiates the controller itself; the worker's handlers reach it through here. */
const bound: { handlers: Handlers | undefined } = { handlers: undefined };

/** A controller as an application would write it: one @MessagePattern, one @EventPattern. */
@Controller()
class BenchController {
  @MessagePattern(REQUEST_PATTERN)
  echo(@Payload() p: BenchPayload): BenchPayload {
    return bound.handlers!.request(p);
  }

  @EventPattern(EVENT_PATTERN)
  count(@Payload() p: BenchPayload): void {
    bound.handlers!.event(p);
  }
}

@Module({ controllers: [BenchController] })
class BenchModule {}

/** Starts a real Nest microservice app (NestFactory.createMicroservice) with the given transport. */
export async function startMicroservice(
  options: MicroserviceOptions,
  handlers: Handlers,
): Promise<INestMicroservice> {
  bound.handlers = handlers;
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(BenchModule, {
    ...options,
    logger: false,
  });
  await app.listen();
  return app;
}
