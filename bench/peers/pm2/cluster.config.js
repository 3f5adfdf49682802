// PM2 ecosystem file for the pm2 system of bench/route.sh: pm2/echo-worker.js in
// cluster mode, two instances (one per core of the 2-core machine, as every route
// has), run with `pm2-runtime start cluster.config.js`. Node's cluster module in
// PM2's God process owns PEERS_SOCKET and hands connections to the instances
// round robin. route.sh passes:
//   PEERS_SOCKET   the Unix socket clients connect to
//   PEERS_WORK_US  microseconds of CPU per request
// Why each setting is what it is: bench/peers/README.md, "PM2".
'use strict';
const path = require('path');

module.exports = {
  apps: [
    {
      name: 'echo',
      script: path.join(__dirname, 'echo-worker.js'),
      args: ['--listen', process.env.PEERS_SOCKET, '--work-us', process.env.PEERS_WORK_US || '0'],
      exec_mode: 'cluster',
      instances: 2,
      // The fault runs SIGKILL a worker every 100 ms. With the defaults (min_uptime
      // 1000 ms, max_restarts 16) PM2 would call that a crash loop and mark the app
      // "errored" after 16 restarts; drover's pools get crash_limit = none for the same
      // runs, so PM2 is told not to give up either. Nothing else depends on it.
      max_restarts: 1000000,
      out_file: '/dev/null',
      error_file: '/dev/null',
    },
  ],
};
