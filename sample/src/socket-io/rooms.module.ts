import { Module } from '@nestjs/common';
import { RoomsController } from './rooms.controller.js';
import { RoomsGateway } from './rooms.gateway.js';

/** A socket.io room across the workers: the gateway, and HTTP to look at it and emit to it. */
@Module({ controllers: [RoomsController], providers: [RoomsGateway] })
export class RoomsModule {}
