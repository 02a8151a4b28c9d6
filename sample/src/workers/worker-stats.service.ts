import { Injectable } from '@nestjs/common';

/** What this worker has done since it started (each worker counts its own). */
@Injectable()
export class WorkerStats {
  readonly startedAt = Date.now();
  httpRequests = 0;
  ipcMessages = 0;
}
