import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Counter } from 'prom-client';
import type { Observable } from 'rxjs';

/** HTTP requests this worker handled, by method and route: summed over the cluster on /metrics. */
const httpRequests = new Counter({
  name: 'sample_http_requests_total',
  help: 'HTTP requests handled, by method and route.',
  labelNames: ['method', 'route'],
});

/** Counts each HTTP request under its route pattern (`/cache/:key`, not each key). */
@Injectable()
export class HttpRequestsInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const req = context.switchToHttp().getRequest<{ method: string; route?: { path: string } }>();
      httpRequests.inc({ method: req.method, route: req.route?.path ?? 'unknown' });
    }
    return next.handle();
  }
}
