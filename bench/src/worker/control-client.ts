import { type Socket, connect } from 'node:net';
import { type Call, type FromWorker, type WorkerBoot, lineReader } from '../shared/protocol.js';

export type Op = (args: Record<string, any>) => unknown;

/** The worker's end of the control plane. Losing it means the orchestrator is gone: exit. */
export class ControlClient {
  private ops: Record<string, Op> = {};

  private constructor(private readonly socket: Socket) {
    socket.on(
      'data',
      lineReader((line) => this.onCall(JSON.parse(line) as Call)),
    );
    socket.on('close', () => process.exit(0));
    socket.on('error', () => process.exit(0));
  }

  static async connect(boot: WorkerBoot): Promise<ControlClient> {
    const socket = connect(boot.control);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    // The control plane is a few small messages: send each at once rather than batched.
    socket.setNoDelay?.(true);
    const client = new ControlClient(socket);
    client.send({ t: 'hello', key: boot.key, pid: process.pid });
    return client;
  }

  serve(ops: Record<string, Op>): void {
    this.ops = ops;
  }

  ready(info: Record<string, unknown>): void {
    this.send({ t: 'ready', info });
  }

  /** Reports a fatal error; the caller exits once it is written. */
  fatal(error: unknown): Promise<void> {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return new Promise((resolve) =>
      this.socket.write(line({ t: 'fatal', error: text }), () => resolve()),
    );
  }

  private send(message: FromWorker): void {
    this.socket.write(line(message));
  }

  private async onCall(call: Call): Promise<void> {
    const op = this.ops[call.op];
    try {
      if (op === undefined) throw new Error(`unknown op '${call.op}'`);
      const value = await op(call.args);
      this.send({ t: 'reply', rid: call.rid, ok: true, value: value ?? null });
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.send({ t: 'reply', rid: call.rid, ok: false, error });
    }
  }
}

function line(message: FromWorker): string {
  return JSON.stringify(message) + '\n';
}
