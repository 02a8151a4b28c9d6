import { type SenderReport, check, parseLog } from './checker.js';

/** The checker must catch what it claims to catch: each rule against a log that breaks it. */

function sender(slot: number, pid: number, extra: Partial<SenderReport> = {}): SenderReport {
  return {
    slot,
    pid,
    id: slot,
    isHub: slot === 1,
    hubId: 1,
    connected: true,
    peers: [1, 2],
    sentTo: {},
    undeliverable: [],
    uncertain: [],
    nestVerdicts: {},
    broadcasts: [],
    requests: [],
    otherErrors: [],
    ...extra,
  };
}

const joined = (id: number) => `J ${id} 1000\n`;

test('a complete, ordered run passes', () => {
  const logs = [
    parseLog(1, 100, false, joined(1) + 'E 200 1\n'),
    parseLog(2, 200, false, joined(2) + 'T 1 100 1\nL 1 100 2\nB 1 100 1\n'),
  ];
  const senders = [
    sender(1, 100, { sentTo: { 2: 2 }, broadcasts: [2000] }),
    sender(2, 200, { requests: [[1, 1, 'ok']] }),
  ];
  const v = check(logs, senders, [1, 2]);
  expect(v.violations).toEqual([
    'lost: broadcast #1 from slot 1 (pid 100) never reached pid 100 (slot 1), joined 1000 ms before it',
  ]);
  expect(v.stats.targeted).toBe(2);
  expect(v.stats.requestsAnswered).toBe(1);
});

test('loss, a duplicate in one incarnation, reordering and a forged sender are each reported', () => {
  const logs = [
    parseLog(1, 100, false, joined(1)),
    parseLog(2, 200, false, joined(2) + 'T 1 100 2\nT 1 100 2\nT 1 100 1\nT 3 100 4\n'),
  ];
  const v = check(logs, [sender(1, 100, { sentTo: { 2: 5 } })], [1, 2]);
  expect(v.violations).toEqual([
    'order: pid 200 (slot 2) got T 100 #2 after #2 (twice)',
    'order: pid 200 (slot 2) got T 100 #1 after #2 (out of order)',
    'sender: slot 2 (pid 200) got a message of pid 100 (slot 1) marked as from peer 3',
    'lost: message #3 from slot 1 (pid 100) to slot 2',
    'lost: message #5 from slot 1 (pid 100) to slot 2',
  ]);
});

test('a copy in the successor of a crashed process is allowed; in the successor of a live one it is not', () => {
  const crashed = [
    parseLog(2, 201, true, 'J 2 1000\nT 1 100 1\n'),
    parseLog(2, 202, false, 'J 2 2000\nT 1 100 1\nT 1 100 2\n'),
    parseLog(1, 100, false, joined(1)),
  ];
  const v = check(crashed, [sender(1, 100, { sentTo: { 2: 2 } })], [1, 2]);
  expect(v.violations).toEqual([]);
  expect(v.stats.redeliveredAfterCrash).toBe(1);

  crashed[0]!.killed = false;
  expect(check(crashed, [sender(1, 100, { sentTo: { 2: 2 } })], [1, 2]).violations).toEqual([
    'duplicate: #1 from pid 100 reached slot 2 in pids 201, 202, not all crashed',
  ]);
});

test('undeliverable: excuses a message delivered nowhere, not one any process got, even a dead one', () => {
  const logs = [
    parseLog(1, 100, false, joined(1)),
    parseLog(2, 200, false, joined(2) + 'T 1 100 2\n'),
    parseLog(3, 300, true, joined(3) + 'T 1 100 1\n'),
  ];
  const v = check(
    logs,
    [
      sender(1, 100, {
        sentTo: { 2: 3, 3: 1 },
        undeliverable: [
          [2, 1, 'grace-expired'],
          [2, 2, 'grace-expired'],
          [3, 1, 'grace-expired'],
        ],
        nestVerdicts: { ERR_IPC_UNDELIVERABLE: 2 },
      }),
    ],
    [1, 2],
  );
  expect(v.violations).toEqual([
    'undeliverable: pid 100 was told #2 to slot 2 was undeliverable (grace-expired), yet pid 200 got it',
    'lost: message #3 from slot 1 (pid 100) to slot 2',
    'undeliverable: pid 100 was told #1 to slot 3 was undeliverable (grace-expired), yet pid 300 got it',
  ]);
  expect(v.stats.reportedUndeliverable).toBe(3);
  expect(v.stats.nestVerdicts).toEqual({ ERR_IPC_UNDELIVERABLE: 2 });
});

/** Slot 2 crashed (pid 201) and came back (pid 202); pid 100 sent it 3 messages. */
function slotRestarted(dead: string, successor: string, uncertain: SenderReport['uncertain']) {
  const logs = [
    parseLog(1, 100, false, joined(1)),
    parseLog(2, 201, true, `J 2 1000\n${dead}`),
    parseLog(2, 202, false, `J 2 2000\n${successor}`),
  ];
  return check(logs, [sender(1, 100, { sentTo: { 2: 3 }, uncertain })], [1, 2]);
}

test('delivery uncertain: excuses a message delivered nowhere, or once to a process of its slot', () => {
  const v = slotRestarted('T 1 100 1\n', 'T 1 100 3\n', [
    [2, 1, 'grace-expired'],
    [2, 2, 'grace-expired'],
  ]);
  expect(v.violations).toEqual([]);
  expect(v.stats.reportedUncertain).toBe(2);
  expect(v.stats.uncertainHandled).toBe(1);
});

test('delivery uncertain: a message two processes got is reported; one that only the live one got is not', () => {
  const v = slotRestarted('T 1 100 1\nT 1 100 2\n', 'T 1 100 2\nT 1 100 3\n', [
    [2, 1, 'grace-expired'],
    [2, 2, 'grace-expired'],
    [2, 3, 'peer-left'],
  ]);
  expect(v.violations).toEqual([
    'delivery-uncertain: pid 100 was told #2 to slot 2 was delivery-uncertain (grace-expired), yet pids 201, 202 got it',
  ]);
  expect(v.stats.reportedUncertain).toBe(3);
  expect(v.stats.uncertainHandled).toBe(2);
});

test('a message given both verdicts, or one twice, is reported', () => {
  const logs = [parseLog(1, 100, false, joined(1)), parseLog(2, 200, false, joined(2))];
  const v = check(
    logs,
    [
      sender(1, 100, {
        sentTo: { 2: 2 },
        undeliverable: [
          [2, 1, 'grace-expired'],
          [2, 2, 'peer-absent'],
          [2, 2, 'peer-absent'],
        ],
        uncertain: [[2, 1, 'grace-expired']],
      }),
    ],
    [1, 2],
  );
  expect(v.violations).toEqual([
    'verdicts: pid 100 was told #2 to slot 2 was undeliverable (peer-absent) and undeliverable (peer-absent)',
    'verdicts: pid 100 was told #1 to slot 2 was undeliverable (grace-expired) and delivery-uncertain (grace-expired)',
  ]);
});

test('requests: untyped failures, pending ones and double execution are reported; typed failures are not', () => {
  const logs = [
    parseLog(1, 100, false, joined(1) + 'E 200 3\nE 200 3\n'),
    parseLog(2, 200, false, joined(2)),
  ];
  const requests: [number, number, string][] = [
    [1, 1, 'ERR_IPC_PEER_LEFT'],
    [1, 2, 'pending'],
    [1, 3, 'ok'],
    [1, 4, 'UNTYPED Error: boom'],
  ];
  const v = check(logs, [sender(2, 200, { requests, isHub: false }), sender(1, 100)], [1, 2]);
  expect(v.violations).toEqual([
    'request: pid/k 200 3 was executed 2 times',
    'request: #2 of pid 200 to slot 1 ended as pending',
    'request: #3 of pid 200 to slot 1 answered but executed 2 times',
    'request: #4 of pid 200 to slot 1 ended as UNTYPED Error: boom',
  ]);
  expect(v.stats.requestsFailed).toEqual({ ERR_IPC_PEER_LEFT: 1 });
});

test('ids, hubs and membership at the end', () => {
  const logs = [
    parseLog(1, 100, false, 'J 1 1000\nJ 3 5000\n'),
    parseLog(2, 200, false, joined(2)),
  ];
  const v = check(
    logs,
    [sender(1, 100), sender(2, 200, { isHub: true, hubId: 2, peers: [2] })],
    [1, 2],
  );
  expect(v.violations).toEqual([
    'ids: pid 100 of slot 1 joined as peer 3',
    'hub: 2 processes say they are the hub at the end',
    'membership: slot 2 sees peers 2, not 1,2',
  ]);
});

test('without live slots, hubs and membership are left to the caller (one hub per federated host)', () => {
  const logs = [parseLog(1, 100, false, joined(1)), parseLog(101, 200, false, joined(101))];
  const v = check(
    logs,
    [sender(1, 100), sender(101, 200, { id: 1, isHub: true, hubId: 1, peers: [1] })],
    undefined,
  );
  expect(v.violations).toEqual([]);
});

test('an unterminated last line is no message', () => {
  const log = parseLog(2, 200, true, 'J 2 1000\nT 1 100 1\nT 1 10');
  expect(log.received.map((e) => e.k)).toEqual([1]);
  expect(parseLog(2, 200, true, 'J 2 1000\nT 1 100 ').received).toEqual([]);
});

test('a reader hung past stallTimeoutMs may miss broadcasts from a second before it stopped until it joined again; not others', () => {
  // Pid 200 was stopped from 5000 to 8000 and joined again at 8200; pid 300 was not stopped.
  const logs = [
    parseLog(1, 100, false, joined(1) + [1, 2, 3, 4, 5].map((k) => `B 1 100 ${k}\n`).join('')),
    parseLog(2, 200, false, joined(2) + 'B 1 100 1\nJ 2 8200\nB 1 100 5\n'),
    parseLog(3, 300, false, joined(3) + 'B 1 100 1\nB 1 100 5\n'),
  ];
  const broadcasts = [2000, 4500, 6000, 8200, 9000];
  const v = check(
    logs,
    [sender(1, 100, { broadcasts, peers: [1, 2, 3] })],
    [1, 2, 3],
    [{ pid: 200, from: 5000, to: 8000 }],
  );
  expect(v.violations).toEqual([
    'lost: broadcast #2 from slot 1 (pid 100) never reached pid 300 (slot 3), joined 3500 ms before it',
    'lost: broadcast #3 from slot 1 (pid 100) never reached pid 300 (slot 3), joined 5000 ms before it',
    'lost: broadcast #4 from slot 1 (pid 100) never reached pid 300 (slot 3), joined 7200 ms before it',
  ]);
  expect(v.stats.missedWhileCutOff).toBe(3);
});
