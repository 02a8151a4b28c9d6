/** HTTP for the demo (scripts/demo.mjs): one request at a time, and a free port to serve on. */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { dim, say } from './demo-kit.mjs';

/** One request on a fresh connection, so PM2's cluster hands each to the next worker. */
export function http(port, method, path, body) {
  return new Promise((resolveHttp, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        timeout: 30_000,
        headers: data ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          try {
            resolveHttp({ status: res.statusCode, body: JSON.parse(text) });
          } catch {
            reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

function portIsFree(port) {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

/** `wanted` if it is free, else any free port (and says so). */
export async function choosePort(wanted) {
  if (await portIsFree(wanted)) return wanted;
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  say(dim(`   (port ${wanted} is taken; using ${port})`));
  return port;
}
