import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { IpcClient } from 'nestjs-ipc-channel';
import { CacheService } from './cache.service.js';

/** The HTTP API. PM2 hands each connection to any worker; the answer says which one it was. */
@Controller('cache')
export class CacheController {
  constructor(
    private readonly cache: CacheService,
    private readonly ipc: IpcClient,
  ) {}

  /** Stores `{ "value": ... }` in this worker's memory. */
  @Post(':key')
  async store(@Param('key') key: string, @Body() body: { value?: unknown }) {
    this.cache.set(key, body?.value ?? null);
    return { ...(await this.worker()), key, stored: body?.value ?? null };
  }

  /** What this worker holds for the key. */
  @Get(':key')
  async read(@Param('key') key: string) {
    const entry = this.cache.get(key);
    return {
      ...(await this.worker()),
      key,
      hit: entry !== undefined,
      ...(entry !== undefined ? { value: entry.value, storedAt: entry.storedAt } : {}),
    };
  }

  /** Removes the key here and tells every worker to drop it too. */
  @Delete(':key')
  async remove(@Param('key') key: string) {
    const { confirmedBy, missing } = await this.cache.invalidateEverywhere(key);
    return { ...(await this.worker()), key, confirmedBy, missing };
  }

  private async worker(): Promise<{ worker: number; pid: number }> {
    await this.ipc.connect(); // already joined, except in the first moments of a (re)start
    return { worker: this.ipc.id!, pid: process.pid };
  }
}
