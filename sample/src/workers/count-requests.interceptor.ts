import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import { WorkerStats } from './worker-stats.service.js';

/** Counts the HTTP requests and channel messages this worker handles. */
@Injectable()
export class CountRequestsInterceptor implements NestInterceptor {
  constructor(private readonly stats: WorkerStats) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') this.stats.httpRequests++;
    else if (context.getType() === 'rpc') this.stats.ipcMessages++;
    return next.handle();
  }
}
