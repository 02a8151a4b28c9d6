// ipchannel's README example (index.js): four cluster workers running task.js. The file ends in
// .cjs because this app's package.json says "type": "module" (task.js is an ES module).
const cluster = require('cluster');

if (cluster.isMaster) {
  for (let i = 0; i < 4; i++) {
    cluster.fork();
  }
} else {
  require('./task');
}
