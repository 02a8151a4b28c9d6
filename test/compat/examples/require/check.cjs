// CommonJS: require() of the compat entry point (an ES module, through require(esm)) gives its
// exports, and two channels in one process talk, then leave so the process can exit.
const compat = require('nestjs-ipc-channel/compat');
const { Channel, channel } = compat;

const second = new Channel();
const got = [];
second.on('message', (sender, ...data) => got.push([sender, ...data]));
second.on('greeting', (sender, ...data) => got.push([sender, 'greeting', ...data]));

let connected = 0;
const onConnect = () => {
  if (++connected < 2) return;
  channel.to(second.pid).send('a', 2, { three: 3 });
  channel.to(second.pid).emit('greeting', 'hi');
};
channel.on('connect', onConnect);
second.on('connect', onConnect);
second.on('greeting', () => {
  const pids = [channel.pid, second.pid].sort();
  const fromChannel = got.every(([sender]) => sender === channel.pid);
  channel.disconnect();
  second.disconnect();
  let left = 0;
  const done = () => {
    if (++left < 2) return;
    console.log(
      JSON.stringify({
        exports: Object.keys(compat).sort(),
        sameDefault: compat.default === channel,
        pids,
        fromChannel,
        connected: [channel.connected, second.connected],
        got: got.map(([, ...rest]) => rest),
      }),
    );
  };
  channel.on('disconnect', done);
  second.on('disconnect', done);
});
