import { type ChildProcess, fork } from 'node:child_process';
import type { BenchPayload } from '../shared/payload.js';
import { WORKER_MAIN } from '../shared/paths.js';
import { BOOT_ENV, type WorkerBoot } from '../shared/protocol.js';
import { Fifo } from './fifo.js';
import type { Endpoint, Handlers, Transport } from './types.js';

/**
 * Node's child_process IPC: `process.send` between a parent and the children it forks, with
 * Node's default JSON serialization. The parent is always the driving side; broadcast is the
 * parent sending to each of its children. Backpressure: send() returns false once Node's
 * backlog is over its threshold, and the send callbacks say when the backlog has drained.
 */
export interface ChildIpcOptions {
  /** Parent only: the workers to fork, each described as the orchestrator would spawn it. */
  children?: WorkerBoot[];
}

function openChild(boot: WorkerBoot, handlers: Handlers): Endpoint {
  if (typeof process.send !== 'function') throw new Error('child-ipc child started without IPC');
  const send = process.send.bind(process);
  const respond = boot.spec.traffic === 'rr';
  process.on('message', (p: BenchPayload) => {
    if (respond) send(handlers.request(p));
    else handlers.event(p);
  });
  // The parent is the only way in: if it goes, so does this process.
  process.on('disconnect', () => process.exit(0));
  return {
    info: {},
    sync: async () => {},
    request: () => Promise.reject(new Error('a child-ipc child only serves')),
    emit: () => {
      throw new Error('a child-ipc child only receives');
    },
    drained: async () => {},
  };
}

async function openParent(boot: WorkerBoot): Promise<Endpoint> {
  const o = boot.spec.options as ChildIpcOptions;
  let exiting = false;
  const children: ChildProcess[] = (o.children ?? []).map((childBoot) => {
    const child = fork(WORKER_MAIN, [], {
      env: { ...process.env, [BOOT_ENV]: JSON.stringify(childBoot) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('exit', (code, signal) => {
      if (!exiting) throw new Error(`child ${childBoot.key} exited (${code ?? signal})`);
    });
    return child;
  });
  process.on('exit', () => {
    exiting = true;
    for (const child of children) child.kill('SIGKILL');
  });

  const waiting = new Fifo<(p: BenchPayload) => void>();
  for (const child of children) child.on('message', (p: BenchPayload) => waiting.shift()(p));

  let sent = 0;
  let completed = 0;
  let wake: (() => void) | undefined;
  let wakeAt = 0;
  const onSent = (error: Error | null) => {
    if (error) throw error;
    completed++;
    if (wake !== undefined && completed >= wakeAt) {
      const w = wake;
      wake = undefined;
      w();
    }
  };

  return {
    info: {},
    // Each child reports ready to the orchestrator itself once it listens; nothing to wait for.
    sync: async () => {},
    request(p) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        children[0]!.send(p);
      });
    },
    emit(p) {
      let ok = true;
      for (let i = 0; i < children.length; i++) {
        sent++;
        ok = children[i]!.send(p, onSent) && ok;
      }
      return ok;
    },
    drained() {
      if (completed >= sent) return Promise.resolve();
      wakeAt = sent;
      return new Promise((resolve) => (wake = resolve));
    },
  };
}

export const childIpcTransport: Transport = {
  open: async (boot, handlers) =>
    boot.spec.spawnedBy === undefined ? openParent(boot) : openChild(boot, handlers),
};
