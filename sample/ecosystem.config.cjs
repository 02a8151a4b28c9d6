// PM2 runs the sample as 4 cluster workers sharing one HTTP port; the workers talk to one another
// over nestjs-ipc-channel. Build first (`npm run build:sample`), then:
//   pm2 start sample/ecosystem.config.cjs     pm2 reload cache-api     pm2 delete cache-api
/* global module, __dirname */

/** Only the variables that are set, so PM2 does not pass the string "undefined". */
const defined = (env) => Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));

module.exports = {
  apps: [
    {
      // The channel is named after the app ('pm2:cache-api'); each instance gets peer id
      // NODE_APP_INSTANCE + 1, and keeps it across reloads and restarts.
      name: 'cache-api',
      script: `${__dirname}/dist/main.js`,
      exec_mode: 'cluster',
      instances: Number(process.env.WORKERS || 4),

      // The worker sends process.send('ready') once HTTP listens, before it waits for its peer
      // id: during a reload that id is still held by the worker being replaced, which PM2 stops
      // only after the new one is ready (see src/main.ts).
      wait_ready: true,
      listen_timeout: 10000,
      // Time for a graceful stop: finish HTTP requests, deliver what was sent, leave the channel.
      kill_timeout: 8000,
      // Workers spawn no children; this also avoids needing `ps` (missing in slim images).
      treekill: false,
      min_uptime: 1000,
      max_restarts: 16,

      merge_logs: true,
      time: true,
      pmx: false,
      vizion: false,
      env: defined({
        NODE_ENV: process.env.NODE_ENV || 'production',
        PORT: process.env.PORT || '3000',
        HOST: process.env.HOST,
        NESTJS_IPC_DIR: process.env.NESTJS_IPC_DIR,
        SAMPLE_TRACE_FILE: process.env.SAMPLE_TRACE_FILE,
      }),
    },
  ],
};
