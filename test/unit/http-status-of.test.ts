import { InvalidEventNameError, InvalidTargetError } from '../../src/channel/errors.js';
import { httpStatusOf } from '../../src/nest/http/http-status-of.js';
import {
  InvalidMessageError,
  NoHandlerPeerError,
  PeerLeftError,
  PeerUnavailableError,
  RequestTimeoutError,
} from '../../src/nest/ipc.errors.js';
import { QueueFullError } from '../../src/channel/errors.js';

test('each channel error maps to its HTTP status, and says whether a retry later may succeed', () => {
  const cases: [Error, number, boolean][] = [
    [new PeerUnavailableError(3, 'p', true), 503, true],
    [new PeerUnavailableError(3, 'p', false, { kind: 'unknown' }), 503, true],
    [new PeerLeftError(3, 'p'), 503, true],
    [new RequestTimeoutError(3, 'p', 100, true), 504, false],
    [new RequestTimeoutError(3, 'p', 100, false, 1, true), 503, true],
    [new InvalidTargetError('x'), 400, false],
    [new InvalidMessageError(), 400, false],
    [new InvalidEventNameError('connect', 'it is reserved'), 400, false],
    [new NoHandlerPeerError('p', 'c'), 501, false],
    [new QueueFullError(10, 5), 500, false],
  ];
  for (const [error, status, retry] of cases) {
    expect([error.name, httpStatusOf(error as never)]).toEqual([error.name, { status, retry }]);
  }
});
