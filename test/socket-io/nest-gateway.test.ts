import { Proc } from '../helpers/processes.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';
import { closeClients, connectClient, untilEach } from './clients.js';

const box = sandbox({ name: 'sio-nest' });
afterEach(closeClients);

const APP = '../socket-io/fixtures/nest-gateway-app.js';

test('a @WebSocketGateway with IpcIoAdapter: a room spans two Nest apps, over the connection their IpcServer shares', async () => {
  const apps: Proc[] = [];
  const ports: number[] = [];
  for (const id of [1, 2]) {
    const app = await Proc.start(APP, box.peerEnv({ id }));
    const started = await app.call<{ port: number; id: number }>('start');
    expect(started.id).toBe(id);
    apps.push(app);
    ports.push(started.port);
  }
  // One peer per process: the gateway's adapter rides the IpcServer's connection.
  for (const app of apps) {
    await until(async () => (await app.call<{ peers: number[] }>('state')).peers.join() === '1,2');
  }

  const a = await connectClient(ports[0]!, 'a');
  const b = await connectClient(ports[1]!, 'b');
  const c = await connectClient(ports[1]!, 'c');
  expect(await a.socket.emitWithAck('join', 'lobby')).toEqual({ joined: 'lobby' });
  expect(await b.socket.emitWithAck('join', 'lobby')).toEqual({ joined: 'lobby' });
  // fetchSockets() counts both apps' sockets once each app knows the other's server.
  await until(async () => (await c.socket.emitWithAck('members', 'lobby')) === 2);
  expect(await a.socket.emitWithAck('members', 'lobby')).toBe(2);

  expect(await c.socket.emitWithAck('say', { room: 'lobby', text: 'hello' })).toBe('sent');
  await untilEach([a, b], 'said', 1);
  // c is in no room but its own: what it gets after this, it would have got after 'hello'.
  expect(await c.socket.emitWithAck('say', { room: c.socket.id, text: 'only c' })).toBe('sent');
  await untilEach([c], 'said', 1);
  expect([a.firsts('said'), b.firsts('said'), c.firsts('said')]).toEqual([
    ['hello'],
    ['hello'],
    ['only c'],
  ]);

  // app.close() disposes the adapter and leaves the channel: the other app sees it leave.
  await apps[0]!.call('close');
  await until(async () => (await apps[1]!.call<{ peers: number[] }>('state')).peers.join() === '2');
  expect(await b.socket.emitWithAck('members', 'lobby')).toBe(1);
});
