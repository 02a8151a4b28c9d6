// One process of an A/B measurement (see scripts/ab.mjs): a real Nest microservice app whose
// IpcServer and IpcClient come from the build under test, given as AB_LIB (a dist/index.js).
//
//   node scripts/ab-worker.mjs server|client <channel dir> rr|emit
//
// The server (peer 1, first up, so it hosts the hub) answers 'rr' and counts 'ev'. The client
// (peer 2) keeps 100 requests in flight, or emits as fast as backpressure allows. The parent
// talks to both over the fork IPC channel: 'count' -> { done }, 'exit'.
import 'reflect-metadata';
import { pathToFileURL } from 'node:url';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';

const [role, dir, mode] = process.argv.slice(2);
const { IpcServer, IpcClient } = await import(pathToFileURL(process.env.AB_LIB).href);
const SIXTY_FOUR = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/';
let done = 0;

// A controller as an application would write it; plain JS, so decorators are applied by hand.
class AbController {
  echo(p) {
    return p;
  }
  count() {
    done++;
  }
}
const method = (name) => Object.getOwnPropertyDescriptor(AbController.prototype, name);
Reflect.decorate([MessagePattern('rr')], AbController.prototype, 'echo', method('echo'));
Reflect.decorate([EventPattern('ev')], AbController.prototype, 'count', method('count'));
Payload()(AbController.prototype, 'echo', 0);
Payload()(AbController.prototype, 'count', 0);
Controller()(AbController);
class AbModule {}
Module({ controllers: [AbController] })(AbModule);

const options = { name: 'ab', dir, id: role === 'server' ? 1 : 2 };
const app = await NestFactory.createMicroservice(AbModule, {
  strategy: new IpcServer(options),
  logger: false,
});
await app.listen();

let stop = false;
process.on('message', async (m) => {
  if (m === 'count') process.send({ done });
  if (m === 'exit') {
    stop = true;
    await app.close();
    process.exit(0);
  }
});

if (role === 'client') {
  const client = new IpcClient(options);
  await client.connect();
  while (!client.peers.includes(1)) await new Promise((r) => setTimeout(r, 5));
  const server = client.to(1);
  if (mode === 'rr') {
    const lane = async () => {
      while (!stop) {
        await firstValueFrom(server.send('rr', { n: done, s: SIXTY_FOUR }));
        done++;
      }
    };
    for (let i = 0; i < 100; i++) void lane();
  } else {
    // Emits until the channel says to wait, then waits for the emit's completion (its 'drain');
    // yields to I/O every 1024 events, as a producer fed by I/O would.
    let n = 0;
    const pump = () => {
      while (!stop) {
        let accepted = false;
        let waiting = false;
        server.emit('ev', { n: n++, s: SIXTY_FOUR }).subscribe({
          complete: () => {
            if (accepted) return;
            accepted = true;
            if (waiting) setImmediate(pump);
          },
        });
        if (!accepted) {
          waiting = true;
          return;
        }
        if ((n & 1023) === 0) return void setImmediate(pump);
      }
    };
    pump();
  }
}
process.send('ready');
