import {
  Controller,
  Get,
  GatewayTimeoutException,
  NotFoundException,
  Param,
  ParseIntPipe,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  IpcClient,
  type IpcReply,
  PeerLeftError,
  PeerUnavailableError,
  RequestTimeoutError,
} from 'nestjs-ipc-channel';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import type { Pong, WorkerInfo } from './workers.types.js';

@Controller('workers')
export class WorkersController {
  constructor(private readonly ipc: IpcClient) {}

  /** Asks every worker for its stats (one request to each, answers gathered). */
  @Get()
  async list() {
    const replies = await lastValueFrom(
      this.ipc.to('all').send<WorkerInfo>('stats', {}).pipe(toArray()),
    );
    return {
      answeredBy: this.ipc.id,
      workers: replies
        // The sample runs on one host: every peer id is a number.
        .map(
          (r: IpcReply<WorkerInfo>) =>
            r.data ?? { peer: r.peer as number, error: describe(r.error) },
        )
        .sort((a, b) => a.peer - b.peer),
    };
  }

  /** Sends one request to one worker, by peer id. */
  @Get(':id/ping')
  async ping(@Param('id', ParseIntPipe) id: number) {
    const started = process.hrtime.bigint();
    try {
      const pong = await firstValueFrom(this.ipc.to(id).send<Pong>('ping', { at: Date.now() }));
      const micros = Number((process.hrtime.bigint() - started) / 1000n);
      return { from: this.ipc.id, to: id, pong, roundTripMs: micros / 1000 };
    } catch (e) {
      if (e instanceof PeerUnavailableError) throw new NotFoundException(e.message);
      if (e instanceof PeerLeftError) throw new ServiceUnavailableException(e.message);
      if (e instanceof RequestTimeoutError) throw new GatewayTimeoutException(e.message);
      throw e;
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error)
    return String((error as { message: unknown }).message);
  return String(error);
}
