import { LeaderLease, LeaseState } from '../../src/channel/federation/leader-lease.js';
import { StoreHealth } from '../../src/channel/federation/store-health.js';
import { Log } from '../../src/channel/logger.js';
import { MemoryStore } from '../helpers/memory-adapter.js';
import { until } from '../helpers/wait.js';

const LEASE_MS = 600;

function lease(store: MemoryStore, host: string, now?: () => number) {
  const changes: LeaseState[] = [];
  const adapter = store.adapter({ channel: 'c', host, prefix: 'ipc' });
  const l: LeaderLease = new LeaderLease({
    leaseMs: LEASE_MS,
    health: new StoreHealth(new Log(undefined), () => {}),
    onChange: () => changes.push(l.state),
    now,
  });
  return { lease: l, adapter, changes };
}

const opened: LeaderLease[] = [];
afterEach(async () => {
  for (const l of opened.splice(0)) await l.close();
});

test('the first to ask holds the lease, the other has lost it; a release hands it over with a higher epoch', async () => {
  const store = new MemoryStore();
  const a = lease(store, 'A');
  const b = lease(store, 'B');
  opened.push(a.lease, b.lease);
  expect(a.lease.state).toBe(LeaseState.Idle);
  a.lease.start(a.adapter);
  expect(a.lease.state).toBe(LeaseState.Acquiring);
  await until(() => a.lease.state === LeaseState.Held, 5000, 'A holds');
  b.lease.start(b.adapter);
  await until(() => b.lease.state === LeaseState.Lost, 5000, 'B lost');
  expect(a.lease.leading).toBe(true);
  expect(b.lease.leading).toBe(false);
  const epoch = a.lease.epoch;
  expect(epoch).toBeGreaterThanOrEqual(store.lease!.epoch);
  await a.lease.close();
  expect(a.lease.state).toBe(LeaseState.Idle);
  expect(a.changes).toEqual([LeaseState.Held, LeaseState.Idle]);
  await until(() => b.lease.state === LeaseState.Held, 5000, 'B holds');
  expect(b.lease.epoch).toBeGreaterThan(epoch);
  expect(b.changes).toEqual([LeaseState.Lost, LeaseState.Held]);
});

test('validity ends a margin before the lease does, counted from when the renewal was sent', async () => {
  const store = new MemoryStore();
  let clock = 1_000_000;
  const a = lease(store, 'A', () => clock);
  opened.push(a.lease);
  a.lease.start(a.adapter);
  await until(() => a.lease.state === LeaseState.Held, 5000, 'held');
  expect(a.lease.validUntil).toBe(1_000_000 + LEASE_MS - 250);
  clock = a.lease.validUntil - 1;
  expect(a.lease.leading).toBe(true);
  clock = a.lease.validUntil;
  expect(a.lease.leading).toBe(false);
});

test('a held lease the store cannot renew is lost when its validity ends', async () => {
  const store = new MemoryStore();
  const a = lease(store, 'A');
  opened.push(a.lease);
  a.lease.start(a.adapter);
  await until(() => a.lease.state === LeaseState.Held, 5000, 'held');
  store.down = true;
  await until(() => a.lease.state === LeaseState.Lost, 5000, 'lost');
  expect(a.lease.leading).toBe(false);
  store.down = false;
  await until(() => a.lease.state === LeaseState.Held, 5000, 'held again');
  expect(a.changes).toEqual([LeaseState.Held, LeaseState.Lost, LeaseState.Held]);
});
