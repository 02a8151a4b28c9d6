import { BatchAuth } from '../../src/channel/federation/batch-auth.js';
import type { FederationAdapter } from '../../src/channel/federation/federation-adapter.js';
import { HostDirectory, type HostView } from '../../src/channel/federation/host-directory.js';
import { StoreHealth } from '../../src/channel/federation/store-health.js';
import { Log } from '../../src/channel/logger.js';
import { HEADER_SIZE } from '../../src/channel/wire/frame.js';
import { until } from '../helpers/wait.js';

/** A store whose reads of the host views the test answers one by one. */
class ViewsStub {
  views = new Map<string, Buffer>();
  private waiting: ((answer: Map<string, Buffer> | Error) => void) | undefined;
  readonly adapter = {
    publishHost: () => Promise.resolve(),
    readHosts: () =>
      new Promise<Map<string, Buffer>>((resolve, reject) => {
        this.waiting = (answer) => (answer instanceof Error ? reject(answer) : resolve(answer));
      }),
  } as unknown as FederationAdapter;

  /** Answers the next `n` reads with the views set now (or fails them). */
  async serve(n: number, fail = false): Promise<void> {
    for (let i = 0; i < n; i++) {
      await until(() => this.waiting, 5000, 'a read');
      const answer = this.waiting!;
      this.waiting = undefined;
      answer(fail ? new Error('down') : new Map(this.views));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

function view(host: string, at: number, ids: number[]): Buffer {
  const members = ids.map((id) => ({ id, pid: 1, meta: null, retiring: false }));
  return Buffer.from(JSON.stringify({ host, at, members } satisfies HostView));
}

function directory() {
  const sent: string[][] = [];
  const dir = new HostDirectory({
    host: 'A',
    auth: new BatchAuth(undefined, 'c'),
    health: new StoreHealth(new Log(undefined), () => {}),
    log: new Log(undefined),
    intervalMs: 10,
    hostTimeoutMs: 50,
    send: (frame) => {
      const n = frame.readUInt16LE(10);
      const [views] = JSON.parse(frame.toString('utf8', HEADER_SIZE + n)) as [HostView[]];
      sent.push(views.map((v) => `${v.host}:${v.members.map((m) => m.id).join(',')}`));
      return sent.length;
    },
    onHostsKnown: () => {},
  });
  dir.welcome({ id: 65533, hubId: 1, hubPid: 1, peers: [], epoch: 1 });
  return { dir, sent };
}

test('a host is dropped after hostTimeoutMs worth of reads without its renewal, not while the store is down', async () => {
  const stub = new ViewsStub();
  const { dir, sent } = directory();
  dir.start(stub.adapter);
  stub.views.set('B', view('B', 1, [1, 2]));
  await stub.serve(1);
  expect(sent).toEqual([['B:1,2']]);
  // The store restarted and lost the views: 4 reads without B (40 ms) do not drop it...
  stub.views.clear();
  await stub.serve(4);
  // ...nor do failed reads, however many...
  await stub.serve(20, true);
  expect(sent).toEqual([['B:1,2']]);
  // ...and B publishes again in time.
  stub.views.set('B', view('B', 2, [1, 2]));
  await stub.serve(1);
  expect(sent).toEqual([['B:1,2']]);
  expect([...dir.otherHosts()]).toEqual(['B']);
  // A view that is not renewed (B stopped) counts as much as a missing one: the 5th read drops B.
  await stub.serve(4);
  expect(sent).toHaveLength(1);
  await stub.serve(1);
  expect(sent).toEqual([['B:1,2'], []]);
  expect([...dir.otherHosts()]).toEqual([]);
  dir.stop();
});
