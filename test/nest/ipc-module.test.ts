/**
 * IpcModule.forRoot / forRootAsync in real in-process Nest apps (hybrid: an HTTP app with the
 * channel as a connected microservice), and ClientsModule beside an IpcServer.
 */
import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import {
  Controller,
  Injectable,
  type INestApplication,
  type LoggerService,
  Module,
} from '@nestjs/common';
import { ClientsModule, Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import {
  Channel,
  IpcClient,
  IpcContext,
  IpcEventPattern,
  IpcLeadership,
  IpcModule,
  type IpcModuleOptions,
  IpcServer,
  RequestTimeoutError,
} from '../../src/index.js';
import { type TempDir, tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';

/** What handlers saw: `pattern payload from sender`. */
const seen: string[] = [];

@Controller()
class WorkController {
  @IpcEventPattern('noted')
  noted(@Payload() text: string, @Ctx() ctx: IpcContext) {
    seen.push(`${ctx.getPattern()} ${text} from ${ctx.getSender()}`);
  }

  @MessagePattern('sum')
  sum(@Payload() xs: number[]) {
    return xs.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('never')
  never() {
    return new Promise<never>(() => {});
  }
}

/** A feature module's service: IpcModule is global, so nothing is imported for these. */
@Injectable()
class Fleet {
  constructor(
    readonly ipc: IpcClient,
    readonly leadership: IpcLeadership,
  ) {}
}

@Module({ providers: [Fleet], exports: [Fleet] })
class FleetModule {}

/** A configuration provider, as an app would have one. */
@Injectable()
class Settings {
  readonly channel = 'from-settings';
  readonly timeoutMs = 150;
}

@Module({ providers: [Settings], exports: [Settings] })
class SettingsModule {}

/** Collects Nest log lines as `context: message`. */
class Lines implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, context?: string) {
    this.lines.push(`${context}: ${String(message)}`);
  }
  warn(message: unknown, context?: string) {
    this.lines.push(`${context}: ${String(message)}`);
  }
  error(message: unknown, context?: string) {
    this.lines.push(`${context}: ${String(message)}`);
  }
}

let dir: TempDir;
const apps: INestApplication[] = [];
beforeEach(() => {
  dir = tempDir();
  seen.length = 0;
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  dir.remove();
});

/** A hybrid app importing `ipcModule`, started as the README says. */
async function start(ipcModule: ReturnType<typeof IpcModule.forRoot>, logger?: Lines) {
  const moduleRef = await Test.createTestingModule({
    imports: [ipcModule, FleetModule],
    controllers: [WorkController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: logger ?? false });
  apps.push(app);
  app.connectMicroservice({ strategy: app.get(IpcServer) }, { inheritAppConfig: true });
  await app.init();
  await app.startAllMicroservices();
  return { app, fleet: app.get(Fleet), server: app.get(IpcServer) };
}

test('forRoot: one set of options; IpcClient and IpcLeadership injected by class in a feature module; the server logs its join', async () => {
  const logger = new Lines();
  const options: IpcModuleOptions = { name: 'mod', dir: dir.path };
  const { app, fleet, server } = await start(IpcModule.forRoot(options), logger);
  expect(server.id).toBe(1);
  expect(fleet.ipc.id).toBe(1);
  expect(fleet.ipc.unwrap<Channel>()).toBe(server.unwrap<Channel>());
  expect(fleet.ipc.unwrap<Channel>().name).toBe('mod');
  expect(await firstValueFrom(fleet.ipc.send<number>('sum', [1, 2, 3]))).toBe(6);
  await firstValueFrom(fleet.ipc.emit('noted', 'hello'));
  await until(() => seen.length === 1);
  expect(seen).toEqual(['noted hello from 1']);
  await until(() => fleet.leadership.isLeader, 10_000, 'leadership');
  expect(fleet.leadership.epoch).toBe(server.unwrap<Channel>().epoch);
  expect(logger.lines.filter((l) => l.startsWith('IpcServer:'))).toEqual([
    "IpcServer: Joined channel 'mod' as peer 1; this process hosts the hub.",
  ]);
  await app.close();
  apps.length = 0;
  expect(readdirSync(dir.path)).toEqual([]); // client and server both left
});

test('the join line names the peer that hosts the hub when another process got there first', async () => {
  const first = new Channel({ name: 'mod', dir: dir.path });
  await first.connect();
  try {
    const logger = new Lines();
    const { server } = await start(IpcModule.forRoot({ name: 'mod', dir: dir.path }), logger);
    expect(server.id).toBe(2);
    expect(logger.lines.filter((l) => l.startsWith('IpcServer:'))).toEqual([
      "IpcServer: Joined channel 'mod' as peer 2; peer 1 hosts the hub.",
    ]);
  } finally {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await first.close();
  }
});

test('forRootAsync: the options come from a factory with injected providers', async () => {
  const { fleet, server } = await start(
    IpcModule.forRootAsync({
      imports: [SettingsModule],
      inject: [Settings],
      useFactory: (s: Settings) => ({ name: s.channel, dir: dir.path, timeout: s.timeoutMs }),
    }),
  );
  expect(server.unwrap<Channel>().name).toBe('from-settings');
  expect(fleet.ipc.unwrap<Channel>()).toBe(server.unwrap<Channel>());
  await until(() => fleet.leadership.isLeader, 10_000, 'leadership');
  const err = await firstValueFrom(fleet.ipc.send('never', 1)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RequestTimeoutError);
  expect(err).toMatchObject({ peer: 1, pattern: 'never', ms: 150, read: true });
});

/** A microservice with an IpcServer and a ClientsModule IpcClient registered by `clients`. */
async function withClientsModule(clients: ReturnType<typeof ClientsModule.register>) {
  @Module({ imports: [clients], controllers: [WorkController] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const server = new IpcServer({ name: 'cm', dir: dir.path });
  const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
  await app.listen();
  return { app, server, client: app.get<IpcClient>('IPC') };
}

test('ClientsModule.register({ customClass: IpcClient }) without options uses the IpcServer channel', async () => {
  const { app, server, client } = await withClientsModule(
    ClientsModule.register([{ name: 'IPC', customClass: IpcClient }]),
  );
  try {
    expect(await firstValueFrom(client.send<number>('sum', [4, 5]))).toBe(9);
    expect(client.unwrap<Channel>()).toBe(server.unwrap<Channel>());
    expect(client.id).toBe(1);
  } finally {
    await app.close();
  }
  expect(readdirSync(dir.path)).toEqual([]);
});

test('ClientsModule.registerAsync: a factory returns { customClass, options } and the client joins the server', async () => {
  const { app, server, client } = await withClientsModule(
    ClientsModule.registerAsync([
      {
        name: 'IPC',
        imports: [SettingsModule],
        inject: [Settings],
        useFactory: (s: Settings) => ({
          customClass: IpcClient,
          options: { timeout: s.timeoutMs },
        }),
      },
    ]),
  );
  try {
    expect(client.unwrap<Channel>()).toBe(server.unwrap<Channel>());
    expect(await firstValueFrom(client.send<number>('sum', [1, 1]))).toBe(2);
    await expect(firstValueFrom(client.send('never', 1))).rejects.toMatchObject({ ms: 150 });
  } finally {
    await app.close();
  }
});

test("on('connected') agrees with status for a client that attaches after the server joined", async () => {
  const { server, fleet } = await start(IpcModule.forRoot({ name: 'mod', dir: dir.path }));
  const client = new IpcClient({ name: 'mod', dir: dir.path });
  const heard: string[] = [];
  client.on('connected', (id: number) => heard.push(`before connect: ${id}`));
  client.status.subscribe((s) => heard.push(`status ${s}`));
  await client.connect();
  client.on('connected', (id: number) => heard.push(`after connect: ${id}`));
  server.on('connected', (id: number) => heard.push(`server, after its join: ${id}`));
  await Promise.resolve(); // the late listeners are called on the next microtask
  expect(heard).toEqual([
    'status connected',
    'before connect: 1',
    'after connect: 1',
    'server, after its join: 1',
  ]);
  expect(client.unwrap<Channel>()).toBe(fleet.ipc.unwrap<Channel>());
  await client.close();
  expect(heard.at(-1)).toBe('status disconnected');
  expect(heard.filter((h) => h.endsWith(': 1'))).toHaveLength(3); // no repeats
});

test("forRoot's server and client options reach only their side", async () => {
  const calls: string[] = [];
  const { fleet } = await start(
    IpcModule.forRoot({
      name: 'mod',
      dir: dir.path,
      server: {
        serializer: {
          serialize: (packet: unknown) => (calls.push('server.serialize'), packet),
        },
      },
      client: {
        serializer: {
          serialize: (packet: unknown) => (calls.push('client.serialize'), packet),
        },
      },
    }),
  );
  expect(await firstValueFrom(fleet.ipc.send<number>('sum', [2, 3]))).toBe(5);
  expect(calls).toEqual(['client.serialize', 'server.serialize']);
});
