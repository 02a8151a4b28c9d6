/**
 * @LeaderOnly(), runOnLeader() and IpcLeadership in one process: metadata survives either
 * decorator order, nothing runs before a channel is joined, and the leadership is observable.
 */
import 'reflect-metadata';
import { Injectable, type INestMicroservice, Module, SetMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Interval } from '@nestjs/schedule';
import { type Subscription, firstValueFrom, filter } from 'rxjs';
import {
  InvalidOptionError,
  IpcLeadership,
  type IpcLeadershipState,
  IpcServer,
  LeaderOnly,
  runOnLeader,
} from '../../src/index.js';
import { tempDir, until } from '../helpers/processes.js';

@Injectable()
class Jobs {
  readonly calls: string[] = [];

  @SetMetadata('tag', 'below')
  @LeaderOnly()
  below(x: number): number {
    this.calls.push(`below ${x}`);
    return x * 2;
  }

  @LeaderOnly()
  @SetMetadata('tag', 'above')
  above(x: number): number {
    this.calls.push(`above ${x}`);
    return x * 3;
  }

  @Interval(60_000)
  @LeaderOnly()
  intervalBelow(): void {}

  @LeaderOnly()
  @Interval(60_000)
  intervalAbove(): void {}

  @Interval(60_000)
  plainInterval(): void {}
}

let dir: ReturnType<typeof tempDir>;
let apps: INestMicroservice[] = [];
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
  dir.remove();
});

/** What each booted IpcServer reported through on('leader') / on('follower'). */
const serverEvents: string[] = [];

async function boot(name = 'leader-api'): Promise<{ app: INestMicroservice; jobs: Jobs }> {
  @Module({ providers: [Jobs, IpcLeadership] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const server = new IpcServer({ name, dir: dir.path });
  server.on('leader', (epoch: number) => serverEvents.push(`${name} leader ${epoch}`));
  server.on('follower', (epoch: number) => serverEvents.push(`${name} follower ${epoch}`));
  const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
  apps.push(app);
  await app.listen();
  return { app, jobs: app.get(Jobs) };
}

test('metadata of the method survives @LeaderOnly() above or below other decorators', () => {
  const proto = Jobs.prototype as unknown as Record<string, object>;
  expect(Reflect.getMetadata('tag', proto.below!)).toBe('below');
  expect(Reflect.getMetadata('tag', proto.above!)).toBe('above');
  const keys = (m: string) => [...Reflect.getOwnMetadataKeys(proto[m]!)].sort();
  expect(keys('plainInterval').length).toBeGreaterThan(0);
  expect(keys('intervalBelow')).toEqual(keys('plainInterval'));
  expect(keys('intervalAbove')).toEqual(keys('plainInterval'));
  expect((proto.above as { name: string }).name).toBe('above');
});

test('without a joined channel nothing leader-only runs', () => {
  const jobs = new Jobs();
  expect(jobs.below(1)).toBeUndefined();
  expect(jobs.above(1)).toBeUndefined();
  expect(jobs.calls).toEqual([]);
  expect(runOnLeader(() => 'ran')).toBeUndefined();
  const leadership = new IpcLeadership();
  expect([leadership.isLeader, leadership.epoch]).toEqual([false, 0]);
});

test('the only process leads: leader-only methods run, IpcLeadership reports it, and closing steps down', async () => {
  const startedAt = Date.now();
  const { app, jobs } = await boot();
  const leadership = app.get(IpcLeadership);
  const seen: IpcLeadershipState[] = [];
  const sub: Subscription = leadership.changes.subscribe((s) => seen.push(s));
  await firstValueFrom(leadership.changes.pipe(filter((s) => s.isLeader)));
  expect(leadership.isLeader).toBe(true);
  const epoch = leadership.epoch;
  expect(epoch).toBeGreaterThanOrEqual(startedAt); // a new channel's first epoch is the clock
  expect(epoch).toBeLessThanOrEqual(Date.now());
  expect(jobs.below(2)).toBe(4);
  expect(jobs.above(2)).toBe(6);
  expect(jobs.calls).toEqual(['below 2', 'above 2']);
  expect(leadership.runOnLeader((e) => `epoch ${e}`)).toBe(`epoch ${epoch}`);
  expect(runOnLeader((e) => e)).toBe(epoch);

  await app.close();
  apps = [];
  await until(() => seen.at(-1)?.isLeader === false, 5000, 'the step-down');
  sub.unsubscribe();
  // (A follower first, while the new hub settled, if subscribed early enough.) Leader, then not.
  expect(seen.map((s) => s.isLeader).slice(-2)).toEqual([true, false]);
  expect(seen.filter((s) => s.isLeader)).toEqual([{ isLeader: true, epoch }]);
  expect(jobs.below(5)).toBeUndefined();
  expect(jobs.calls).toEqual(['below 2', 'above 2']);
  expect(serverEvents.splice(0)).toEqual([
    `leader-api leader ${epoch}`,
    `leader-api follower ${epoch}`,
  ]);
});

test('a process with two channels must say which one decides', async () => {
  await boot('first');
  await boot('second');
  expect(() => runOnLeader(() => 1)).toThrow(InvalidOptionError);
  const second = IpcLeadership.forChannel('second');
  await until(() => second.isLeader, 5000, 'the second channel to lead');
  const first = IpcLeadership.forChannel('first');
  await until(() => first.isLeader, 5000, 'the first channel to lead');
  expect(runOnLeader((e) => e, { channel: 'first' })).toBe(first.epoch);
});

test('@LeaderOnly() on something that is not a method is refused', () => {
  expect(() => {
    class Bad {
      @LeaderOnly()
      get value(): number {
        return 1;
      }
    }
    return Bad;
  }).toThrow(InvalidOptionError);
});
