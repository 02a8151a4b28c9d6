import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { IpcClient } from 'nestjs-ipc-channel';
import { RoomsGateway } from './rooms.gateway.js';

@Controller('rooms')
export class RoomsController {
  constructor(
    private readonly rooms: RoomsGateway,
    private readonly ipc: IpcClient,
  ) {}

  /** The room's sockets on every worker (socket.io's fetchSockets(), across the cluster). */
  @Get(':room')
  async members(@Param('room') room: string) {
    const sockets = await this.rooms.server.in(room).fetchSockets();
    return {
      answeredBy: this.ipc.id,
      room,
      sockets: sockets
        .map((s) => ({ id: s.id, worker: (s.data as { worker?: number }).worker }))
        .sort((a, b) => (a.worker ?? 0) - (b.worker ?? 0) || a.id.localeCompare(b.id)),
    };
  }

  /** `{"text": ...}` to every client in the room, whichever worker holds it. */
  @Post(':room')
  say(@Param('room') room: string, @Body() body: { text?: string }) {
    this.rooms.emit(room, String(body.text ?? ''));
    return { room, from: this.ipc.id };
  }
}
