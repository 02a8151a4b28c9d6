/**
 * A worker: one endpoint of one trial, in its own process. It connects to the orchestrator's
 * control socket, opens its transport, reports ready, then does what it is asked.
 */
import type { BenchPayload } from '../shared/payload.js';
import { BOOT_ENV, type WorkerBoot } from '../shared/protocol.js';
import { loadTransport } from '../transports/index.js';
import type { Handlers } from '../transports/types.js';
import { ControlClient } from './control-client.js';
import { Inbox } from './inbox.js';
import { workerOps } from './ops.js';

const raw = process.env[BOOT_ENV];
if (raw === undefined) {
  console.error(`bench worker: ${BOOT_ENV} is not set; the orchestrator starts workers`);
  process.exit(2);
}
const boot = JSON.parse(raw) as WorkerBoot;
const control = await ControlClient.connect(boot);

// Any failure, synchronous or not, ends this worker and is reported to the orchestrator,
// which fails the trial at once instead of waiting for a timeout.
const die = (e: unknown) => {
  void control.fatal(e).finally(() => process.exit(1));
};
process.on('uncaughtException', die);
process.on('unhandledRejection', die);

const inbox = new Inbox();
const handlers: Handlers = {
  // The echo: the response is the request payload, so both directions carry the same bytes.
  request: (p: BenchPayload) => p,
  event: (p: BenchPayload) => inbox.event(p),
};
const transport = await loadTransport(boot.spec.transport);
const endpoint = await transport.open(boot, handlers);
control.serve(workerOps(endpoint, inbox));
control.ready(endpoint.info);
