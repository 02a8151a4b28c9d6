import { readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { ElectionLock } from '../../src/channel/election/election-lock.js';
import { EndpointUnavailableError } from '../../src/channel/errors.js';
import { sandbox } from '../helpers/sandbox.js';
import { thrown } from '../helpers/thrown.js';
import { pidNamespace } from '../../src/channel/util/liveness.js';

const box = sandbox();
const lockPath = () => `${box.dir}/x.lock`;
const holder = () => readFileSync(lockPath(), 'utf8');
/** A pid no process can have: above Linux's largest (2^22) and macOS's. */
const DEAD_PID = 2 ** 22 + 1;
/** What this process writes in a lock it takes: its pid and PID namespace. */
const OWN = `${process.pid} ${pidNamespace()}\n`;
/** A live process other than this one. */
const LIVE_PID = process.ppid;

function lockHeldBy(pid: number | string, ageMs = 0): void {
  writeFileSync(lockPath(), `${pid}\n`);
  const at = (Date.now() - ageMs) / 1000;
  utimesSync(lockPath(), at, at);
}

test('takes a free lock: the file holds this pid, mode 0600, and nothing else is left beside it', () => {
  const lock = new ElectionLock(lockPath());
  expect(lock.tryAcquire()).toBe(true);
  expect(holder()).toBe(OWN);
  expect(statSync(lockPath()).mode & 0o777).toBe(0o600);
  expect(readdirSync(box.dir)).toEqual(['x.lock']);
  lock.release();
});

test('is refused while a live process holds the lock, and leaves that lock as it was', () => {
  lockHeldBy(LIVE_PID);
  expect(new ElectionLock(lockPath()).tryAcquire()).toBe(false);
  expect(holder()).toBe(`${LIVE_PID}\n`);
  expect(readdirSync(box.dir)).toEqual(['x.lock']);

  // This process holding it counts too: a second election in it waits like any other.
  const first = new ElectionLock(`${box.dir}/y.lock`);
  expect(first.tryAcquire()).toBe(true);
  expect(new ElectionLock(`${box.dir}/y.lock`).tryAcquire()).toBe(false);
  first.release();
});

test('breaks the lock of a holder that is gone', () => {
  for (const gone of [DEAD_PID, 0, -1]) {
    lockHeldBy(gone);
    const lock = new ElectionLock(lockPath());
    expect(lock.tryAcquire()).toBe(true);
    expect(holder()).toBe(OWN);
    expect(readdirSync(box.dir)).toEqual(['x.lock']);
    lock.release();
  }
});

test('breaks a lock whose content is no pid (a torn or foreign file), which no process can hold', () => {
  lockHeldBy('not a pid');
  const lock = new ElectionLock(lockPath());
  expect(lock.tryAcquire()).toBe(true);
  expect(holder()).toBe(OWN);
  expect(readdirSync(box.dir)).toEqual(['x.lock']);
  lock.release();
});

test('breaks a lock older than STALE_MS even when its pid lives (a stuck or reused pid), and not a younger one', () => {
  lockHeldBy(LIVE_PID, ElectionLock.STALE_MS / 2);
  expect(new ElectionLock(lockPath()).tryAcquire()).toBe(false);
  expect(holder()).toBe(`${LIVE_PID}\n`);

  lockHeldBy(LIVE_PID, ElectionLock.STALE_MS * 10);
  const lock = new ElectionLock(lockPath());
  expect(lock.tryAcquire()).toBe(true);
  expect(holder()).toBe(OWN);
  lock.release();
});

test('release removes the lock only while this process holds it', () => {
  const lock = new ElectionLock(lockPath());
  expect(lock.tryAcquire()).toBe(true);
  lock.release();
  expect(readdirSync(box.dir)).toEqual([]);
  lock.release(); // a second release is nothing

  // Taken over meanwhile (broken as stale by another process): the new holder's lock stays.
  expect(lock.tryAcquire()).toBe(true);
  lockHeldBy(LIVE_PID);
  lock.release();
  expect(holder()).toBe(`${LIVE_PID}\n`);

  // Never taken: someone else's lock stays.
  new ElectionLock(lockPath()).release();
  expect(holder()).toBe(`${LIVE_PID}\n`);
});

test('while held, an exit hook frees the lock (a process.exit mid-election); release removes the hook', () => {
  const before = process.listeners('exit');
  const lock = new ElectionLock(lockPath());
  expect(lock.tryAcquire()).toBe(true);
  const added = process.listeners('exit').filter((l) => !before.includes(l));
  expect(added).toHaveLength(1);
  added[0]!.call(process, 0);
  expect(readdirSync(box.dir)).toEqual([]);
  expect(process.listeners('exit')).toEqual(before);

  expect(lock.tryAcquire()).toBe(true);
  lock.release();
  expect(process.listeners('exit')).toEqual(before);
});

test('a directory it cannot write in is an EndpointUnavailableError that says what to do', () => {
  writeFileSync(`${box.dir}/file`, '');
  const dir = `${box.dir}/file`;
  const err = thrown<EndpointUnavailableError>(() =>
    new ElectionLock(`${dir}/x.lock`).tryAcquire(),
  );
  expect(err).toBeInstanceOf(EndpointUnavailableError);
  expect(err.dir).toBe(dir);
  // Jest's module realm shows Node's own error as `Error: ...`; a plain run as `ENOTDIR: ...`.
  expect(err.message).toMatch(
    new RegExp(
      `^Cannot create the channel endpoint in ${dir}: cannot create the election lock \\((Error: )?ENOTDIR: not a directory, .*\\)\\. Make the directory writable by this user, or point NESTJS_IPC_DIR or the 'dir' option at a directory this user can write to\\.$`,
    ),
  );
});

test('a live holder of this namespace blocks, and the lock says who and when it was written', () => {
  lockHeldBy(`${LIVE_PID} ${pidNamespace()}`, 500);
  const lock = new ElectionLock(lockPath());
  expect(lock.tryAcquire()).toBe(false);
  expect(lock.blockedBy?.pid).toBe(LIVE_PID);
  expect(lock.blockedBy?.pidNs).toBe(pidNamespace());
  expect(Date.now() - lock.blockedBy!.refreshedAt).toBeGreaterThanOrEqual(500);
});

test('a holder of another PID namespace, whose pid says nothing here, holds the lock only as a lease of STALE_MS', () => {
  // Its pid is dead here, yet it may run in its own namespace: only the lock's age decides.
  lockHeldBy(`${DEAD_PID} pid:[1]`, 100);
  const young = new ElectionLock(lockPath());
  expect(young.tryAcquire()).toBe(false);
  expect(young.blockedBy?.pidNs).toBe('pid:[1]');
  lockHeldBy(`${DEAD_PID} pid:[1]`, ElectionLock.STALE_MS + 100);
  const old = new ElectionLock(lockPath());
  expect(old.tryAcquire()).toBe(true);
  expect(holder()).toBe(OWN);
  old.release();
});
