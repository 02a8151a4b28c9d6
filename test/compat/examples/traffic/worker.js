// A worker that sends numbered traffic through the compat channel when a controller (the
// test, peer 100) says so, checks what it receives, and reports exact counts. Every
// message carries the sender's running number, so a loss, a duplicate or a reordering shows.
import channel from 'nestjs-ipc-channel/compat';

const BATCH = 20;

/** Per sender: numbers received in order, and anything else. */
const unicast = new Map();
const broadcast = new Map();
const errors = [];
let sent = 0;
let sentWhenHubLost = -1;

function check(table, sender, seq, step, shapeOk = true) {
  const row = table.get(sender) ?? { count: 0, last: 0, bad: 0 };
  table.set(sender, row);
  if (shapeOk && seq === row.last + step) {
    row.count++;
    row.last = seq;
  } else row.bad++;
}

// Three shapes of the same stream: one value (the channel's own message), several values, and
// a named event; the receiver checks one sequence across all three.
channel.on('message', (sender, seq, ...rest) =>
  check(unicast, sender, seq, 1, rest.join() === (seq % 3 === 1 ? 'two,values' : '')),
);
channel.on('tick', (sender, seq) => check(unicast, sender, seq, 1));
// 'join' is a name the channel reserves: it travels escaped and arrives as sent.
channel.on('join', (sender, seq) => check(broadcast, sender, seq, 10));
channel.on('error', (error) => errors.push(error.code));
channel.native.on('disconnect', () => {
  if (sentWhenHubLost < 0) sentWhenHubLost = sent;
});

channel.on('status?', (sender) => {
  channel.to(sender).emit('status', {
    id: channel.pid,
    pid: process.pid,
    hub: channel.native.isHub,
    connected: channel.connected,
  });
});

channel.on('go', (sender, targets, count) => {
  const send = () => {
    for (let i = 0; i < BATCH && sent < count; i++) {
      const seq = ++sent;
      for (const target of targets) {
        if (seq % 3 === 0) channel.to(target).send(seq);
        else if (seq % 3 === 1) channel.to(target).send(seq, 'two', 'values');
        else channel.to(target).emit('tick', seq);
      }
      if (seq % 10 === 0) channel.to('all').emit('join', seq);
      if (seq === count / 5) channel.to(sender).emit('progress', seq);
    }
    if (sent < count) setTimeout(send, 2);
  };
  send();
});

channel.on('report?', (sender) => {
  channel.to(sender).emit('report', {
    id: channel.pid,
    hub: channel.native.isHub,
    sent,
    sentWhenHubLost,
    unicast: Object.fromEntries(unicast),
    broadcast: Object.fromEntries(broadcast),
    errors,
  });
});
