import {
  AuthenticationError,
  HandshakeError,
  IdTakenError,
  MalformedFrameError,
} from '../../src/channel/errors.js';
import {
  FrameType,
  MAX_PEER_ID,
  PROTOCOL_VERSION,
  controlFrame,
  jsonFrame,
} from '../../src/channel/wire/frame.js';
import {
  type HubHello,
  type JoinRequest,
  type Welcome,
  joinProof,
  welcomeProof,
} from '../../src/channel/wire/handshake.js';
import {
  type ChannelTerms,
  MAX_EPOCH_AHEAD,
  helloRefusal,
  isEpoch,
  isPeerId,
  joinRefusal,
  readJoin,
  rejectionError,
  welcomeRefusal,
} from '../../src/channel/wire/join-validation.js';

const open: ChannelTerms = { name: 'orders', codec: 'json', secret: undefined };
const secured: ChannelTerms = { ...open, secret: Buffer.from('s3cret') };
const other = Buffer.from('another');

function join(fields: Partial<JoinRequest> = {}): JoinRequest {
  return {
    protocol: PROTOCOL_VERSION,
    name: 'orders',
    codec: 'json',
    incarnation: 42,
    pid: 4242,
    claim: 0,
    kind: 'none',
    meta: null,
    nonce: 'peer-nonce',
    ...fields,
  };
}

function hello(fields: Partial<HubHello> = {}): HubHello {
  return {
    protocol: PROTOCOL_VERSION,
    name: 'orders',
    codec: 'json',
    nonce: 'hub-nonce',
    secured: false,
    maxFrameBytes: 1 << 20,
    ...fields,
  };
}

function welcome(proof?: string): Welcome {
  return { id: 1, hubId: 1, hubPid: 1, peers: [], epoch: 1, proof };
}

/** Each term two ends must share, and a value for it that the other end does not have. */
const mismatches = [
  ['protocol-mismatch', { protocol: PROTOCOL_VERSION + 1 }],
  ['name-mismatch', { name: 'billing' }],
  ['codec-mismatch', { codec: 'msgpack' }],
] as const;

/** A mismatch's verdict, on either side: a HandshakeError with the reason in its code. */
function handshakeError(reason: string) {
  return {
    reason,
    error: 'HandshakeError',
    code: `ERR_IPC_${reason.toUpperCase().replace('-', '_')}`,
  };
}

/** The reason of a refusal and the typed error a peer raises for it. */
function verdict(reject: ReturnType<typeof joinRefusal>) {
  if (reject === undefined) return undefined;
  const error = rejectionError(reject);
  return { reason: reject.reason, error: error.constructor.name, code: error.code };
}

describe('the hub, on a Join', () => {
  test('admits a Join that matches its terms', () => {
    expect(joinRefusal(join(), open, 'hub-nonce')).toBeUndefined();
    const proof = joinProof(secured.secret!, 'hub-nonce', 'orders');
    expect(joinRefusal(join({ proof }), secured, 'hub-nonce')).toBeUndefined();
    // A hub without a secret does not look at a proof.
    expect(joinRefusal(join({ proof: 'anything' }), open, 'hub-nonce')).toBeUndefined();
  });

  test.each(mismatches)('refuses with %s, a HandshakeError at the peer', (reason, fields) => {
    expect(verdict(joinRefusal(join(fields), open, 'hub-nonce'))).toEqual(handshakeError(reason));
  });

  test('checks protocol, then name, then codec, then the secret', () => {
    const all = join({ protocol: 99, name: 'billing', codec: 'msgpack' });
    expect(joinRefusal(all, secured, 'n')?.reason).toBe('protocol-mismatch');
    expect(joinRefusal(join({ name: 'b', codec: 'c' }), secured, 'n')?.reason).toBe(
      'name-mismatch',
    );
    expect(joinRefusal(join({ codec: 'c' }), secured, 'n')?.reason).toBe('codec-mismatch');
  });

  test('refuses a missing or wrong proof of the secret: auth-failed, an AuthenticationError', () => {
    const none = joinRefusal(join(), secured, 'hub-nonce');
    expect(verdict(none)).toEqual({
      reason: 'auth-failed',
      error: 'AuthenticationError',
      code: 'ERR_IPC_AUTH_FAILED',
    });
    expect(none?.message).toContain('gave none');
    const wrongSecret = joinProof(other, 'hub-nonce', 'orders');
    const wrong = joinRefusal(join({ proof: wrongSecret }), secured, 'hub-nonce');
    expect(wrong?.reason).toBe('auth-failed');
    expect(wrong?.message).toContain('gave a different one');
    // A proof over another challenge (a replay) fails too.
    const replayed = joinProof(secured.secret!, 'old-nonce', 'orders');
    expect(joinRefusal(join({ proof: replayed }), secured, 'hub-nonce')?.reason).toBe(
      'auth-failed',
    );
  });

  test('reads a Join, and calls a frame that is not one malformed', () => {
    expect(readJoin(jsonFrame(FrameType.Join, join()))).toEqual(join());
    expect(() => readJoin(controlFrame(FrameType.Join, '{not json'))).toThrow(
      new MalformedFrameError('Join is not JSON'),
    );
    for (const body of [null, 7, { name: 'orders' }, { incarnation: '42' }]) {
      expect(() => readJoin(jsonFrame(FrameType.Join, body))).toThrow(MalformedFrameError);
    }
  });
});

describe('the peer, on the HubHello', () => {
  test('joins a hub that matches its terms', () => {
    expect(helloRefusal(hello(), open, '/tmp/x.sock')).toBeUndefined();
    expect(helloRefusal(hello({ secured: true }), secured, '/tmp/x.sock')).toBeUndefined();
  });

  test.each(mismatches)('refuses with %s, a HandshakeError', (reason, fields) => {
    expect(verdict(helloRefusal(hello(fields), open, '/tmp/x.sock'))).toEqual(
      handshakeError(reason),
    );
  });

  test('names the socket of another channel', () => {
    expect(helloRefusal(hello({ name: 'billing' }), open, '/tmp/x.sock')?.message).toBe(
      "The socket at /tmp/x.sock belongs to channel 'billing', not 'orders'. Use another 'dir' for this channel.",
    );
  });

  test('refuses a hub without a secret when it has one, and the other way round', () => {
    const unsecuredHub = helloRefusal(hello(), secured, '/tmp/x.sock');
    expect(verdict(unsecuredHub)?.error).toBe('AuthenticationError');
    expect(unsecuredHub?.message).toContain('has none, so it cannot prove it is trusted');
    const securedHub = helloRefusal(hello({ secured: true }), open, '/tmp/x.sock');
    expect(verdict(securedHub)?.error).toBe('AuthenticationError');
    expect(securedHub?.message).toContain('requires a secret and this process has none');
  });
});

describe('the peer, on the Welcome', () => {
  test("accepts the hub's proof of the secret over its own challenge, and nothing else", () => {
    const good = welcomeProof(secured.secret!, 'peer-nonce', 'orders');
    expect(welcomeRefusal(welcome(good), secured, 'peer-nonce')).toBeUndefined();
    expect(welcomeRefusal(welcome(), open, 'peer-nonce')).toBeUndefined();
    for (const proof of [undefined, 'x', welcomeProof(other, 'peer-nonce', 'orders'), good]) {
      const challenge = proof === good ? 'another-nonce' : 'peer-nonce';
      expect(verdict(welcomeRefusal(welcome(proof), secured, challenge))).toEqual({
        reason: 'auth-failed',
        error: 'AuthenticationError',
        code: 'ERR_IPC_AUTH_FAILED',
      });
    }
  });
});

test("a hub's other refusals become their typed errors", () => {
  const taken = rejectionError({ reason: 'id-taken', id: 3, message: 'held' });
  expect(taken).toBeInstanceOf(IdTakenError);
  expect(taken.message).toContain('Peer id 3 ');
  const full = rejectionError({ reason: 'channel-full', message: 'All ids are taken.' });
  expect(full).toBeInstanceOf(HandshakeError);
  expect([full.reason, full.code, full.message]).toEqual([
    'channel-full',
    'ERR_IPC_CHANNEL_FULL',
    'All ids are taken.',
  ]);
  expect(rejectionError({ reason: 'auth-failed', message: 'no' })).toBeInstanceOf(
    AuthenticationError,
  );
});

test('peer ids are the integers from 1 to MAX_PEER_ID', () => {
  expect([1, 2, MAX_PEER_ID].every(isPeerId)).toBe(true);
  expect([0, -1, 1.5, MAX_PEER_ID + 1, NaN, '3', undefined].some(isPeerId)).toBe(false);
});

test('a Join stating an epoch outside 0..clock + 2^32 is refused, so no Join can stop the epoch rising', () => {
  const ahead = Date.now() + MAX_EPOCH_AHEAD;
  for (const epoch of [2 ** 53 - 1, ahead + 60_000, -1, 1.5, Number.NaN]) {
    const refusal = joinRefusal(join({ epoch }), open, 'hub-nonce');
    expect(refusal?.reason).toBe('invalid-epoch');
    expect(refusal?.message).toContain('(the clock in ms plus 2^32)');
  }
  expect(joinRefusal(join({ epoch: Date.now() + 1000 }), open, 'hub-nonce')).toBeUndefined();
  expect(joinRefusal(join({ epoch: 0 }), open, 'hub-nonce')).toBeUndefined();
  expect(joinRefusal(join(), open, 'hub-nonce')).toBeUndefined();
  expect(isEpoch(ahead, ahead - MAX_EPOCH_AHEAD)).toBe(true);
  expect(isEpoch(ahead + 1, ahead - MAX_EPOCH_AHEAD)).toBe(false);
  expect(isEpoch(String(7))).toBe(false);
});
