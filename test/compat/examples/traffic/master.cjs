// Four node:cluster workers running worker.js, as in ipchannel's README.
const cluster = require('cluster');

if (cluster.isPrimary) {
  for (let i = 0; i < 4; i++) cluster.fork();
} else {
  require('./worker.js');
}
