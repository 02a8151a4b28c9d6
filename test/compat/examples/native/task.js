// ipchannel's README example (task.js) ported to the native API, as docs/compat.md shows.
import { Channel } from 'nestjs-ipc-channel/channel';
const channel = new Channel();

channel.on('message', (sender, msg) => {
  console.log(`Peer ${sender} says: ${msg}`);
});

// Not joined yet: no peer id, not connected.
console.log(channel.id);
console.log(channel.connected);

// Queued until the channel has joined.
channel.to(1).send('This message is sent before connection.');

channel.connect().then(() => {
  console.log(channel.connected);

  switch (channel.id) {
    case 1:
      channel.on('custom-event', (sender, ...data) => {
        console.log(`Peer ${sender} emits: ${JSON.stringify(data)}`);
      });
      break;

    case 2:
      channel.to(1).send("Hi peer 1, I'm peer 2.");
      break;

    case 3:
      channel.to(1).emit('custom-event', 'hello world');
      break;

    case 4:
      channel.to('all').send('all attention');
      channel.to('all').emit('custom-event', 'all attention');
      break;
  }
});
