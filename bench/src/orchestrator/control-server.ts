import { type Socket, createServer } from 'node:net';
import { type FromWorker, lineReader } from '../shared/protocol.js';
import { trackPid } from './cleanup.js';
import { WorkerHandle } from './worker-handle.js';

/** The orchestrator's control socket: every worker of every trial connects here and says hello. */
export class ControlServer {
  private readonly handles = new Map<string, WorkerHandle>();
  private readonly sockets = new Set<Socket>();
  private readonly server = createServer((socket) => this.onConnection(socket));

  private constructor(readonly path: string) {}

  static async start(path: string): Promise<ControlServer> {
    const control = new ControlServer(path);
    await new Promise<void>((resolve, reject) => {
      control.server.once('error', reject);
      control.server.listen(path, resolve);
    });
    return control;
  }

  /** Registers a worker about to start; its hello will find this handle by key. */
  expect(key: string): WorkerHandle {
    const handle = new WorkerHandle(key);
    this.handles.set(key, handle);
    return handle;
  }

  forget(key: string): void {
    this.handles.delete(key);
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    let handle: WorkerHandle | undefined;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {}); // a killed worker resets its socket: 'close' reports it
    socket.on(
      'data',
      lineReader((line) => {
        const message = JSON.parse(line) as FromWorker;
        if (message.t !== 'hello') {
          handle?.onMessage(message);
          return;
        }
        trackPid(message.pid);
        handle = this.handles.get(message.key);
        if (handle === undefined) socket.destroy();
        else handle.attach(socket, message.pid);
      }),
    );
  }
}
