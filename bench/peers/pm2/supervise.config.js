// PM2 ecosystem file for bench/supervise.sh (SYSTEMS=pm2): N copies of one worker binary
// in fork mode, run with `pm2-runtime start supervise.config.js` (PM2's foreground
// mode for containers; the God daemon runs inside that one process).
// supervise.sh passes what varies in the environment:
//   PEERS_N        number of workers
//   PEERS_COMMAND  the worker binary (stamp-worker, or crash-worker)
//   PEERS_STAMP    the stamp socket the workers report to
// Why each setting is what it is: bench/peers/README.md, "PM2".
'use strict';
const n = Number(process.env.PEERS_N || 16);

module.exports = {
  apps: Array.from({ length: n }, (_, i) => ({
    name: `w${i}`,
    script: process.env.PEERS_COMMAND,
    interpreter: 'none',        // a native binary, spawned directly (no node, no shell)
    exec_mode: 'fork',          // cluster mode is for Node scripts only
    autorestart: true,          // default
    restart_delay: 0,           // default
    min_uptime: 1000,           // default: an exit before 1 s is an "unstable" restart
    max_restarts: 16,           // default: 16 unstable restarts in a row -> "errored"
    kill_timeout: 1600,         // default: SIGINT, then SIGKILL after 1.6 s
    out_file: '/dev/null',      // no capture (drover: stdout = null; runit/s6: no log service)
    error_file: '/dev/null',
    env: { DROVER_WORKER: String(i), STAMP_SOCKET: process.env.PEERS_STAMP },
  })),
};
