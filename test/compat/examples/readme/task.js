// ipchannel's README example (task.js), written for ipchannel. The tests run it with the module
// name changed, in CommonJS, and ported to the native API (see App in ../../harness.ts).
import channel from 'ipchannel';

channel.on('message', (sender, msg) => {
  console.log(`Peer ${sender} says: ${msg}`);
});

// Not joined yet: no peer id, not connected.
console.log(channel.pid);
console.log(channel.connected);

// Queued until the channel has joined.
channel.to(1).send('This message is sent before connection.');

channel.on('connect', () => {
  console.log(channel.connected);

  switch (channel.pid) {
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
