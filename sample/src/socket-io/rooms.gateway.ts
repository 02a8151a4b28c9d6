import {
  ConnectedSocket,
  MessageBody,
  type OnGatewayConnection,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { IpcClient } from 'nestjs-ipc-channel';
import type { Server, Socket } from 'socket.io';

/** What a chat message carries to the room's clients. */
export interface Said {
  text: string;
  /** The peer id of the worker that emitted it. */
  from: number | undefined;
}

/**
 * socket.io on every worker's HTTP port. The worker's IpcIoAdapter (see main.ts) shares rooms
 * across the workers: a client on worker 1 and one on worker 3 in room `lobby` both get what
 * any worker emits to `lobby`. WebSocket only: PM2 hands each connection to any worker, and
 * HTTP long-polling would need every request of a session to reach the same one.
 */
@WebSocketGateway({ transports: ['websocket'] })
export class RoomsGateway implements OnGatewayConnection {
  @WebSocketServer() server!: Server;

  constructor(private readonly ipc: IpcClient) {}

  handleConnection(socket: Socket): void {
    socket.data = { worker: this.ipc.id };
  }

  /** `socket.emitWithAck('join', 'lobby')` → `{ room, worker }`: the worker that holds the socket. */
  @SubscribeMessage('join')
  join(@ConnectedSocket() socket: Socket, @MessageBody() room: string) {
    void socket.join(room);
    return { room, worker: this.ipc.id };
  }

  /** `socket.emitWithAck('say', { room, text })`: every client in the room gets `said`. */
  @SubscribeMessage('say')
  say(@MessageBody() body: { room: string; text: string }) {
    this.emit(body.room, body.text);
    return { room: body.room, from: this.ipc.id };
  }

  emit(room: string, text: string): void {
    const said: Said = { text, from: this.ipc.id };
    this.server.to(room).emit('said', said);
  }
}
