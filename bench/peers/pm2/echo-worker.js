// SPDX-License-Identifier: ISC
// examples/echo-worker.c's standalone mode in Node, for the PM2 route: a server on a
// Unix socket speaking plain length framing (4-byte big-endian length, then the
// bytes), answering every frame with itself after --work-us microseconds of CPU.
//
//   node echo-worker.js --listen PATH [--work-us N]
//
// Under PM2 cluster mode (pm2/cluster.config.js) each instance calls listen(PATH)
// and Node's cluster module makes the primary -- PM2's God process -- own the socket
// and hand each accepted connection to a worker, round robin (cluster.SCHED_RR, the
// default on Linux). Run directly, it is the no-router figure beside it.
'use strict';
const cluster = require('cluster');
const fs = require('fs');
const net = require('net');

let workUs = 0;
let listenPath = null;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--work-us') workUs = Number(process.argv[++i]);
  else if (process.argv[i] === '--listen') listenPath = process.argv[++i];
}
if (!listenPath) {
  console.error('usage: node echo-worker.js --listen PATH [--work-us N]');
  process.exit(2);
}

// The C worker's burn: xorshift rounds until this much CPU time has passed
// (process CPU time, as close as Node gets to the C worker's thread CPU time).
let sink = 88172645463325252n & 0xffffffffn;
function doWork() {
  if (workUs <= 0) return;
  const start = process.cpuUsage();
  let x = Number(sink) | 1;
  for (;;) {
    for (let i = 0; i < 256; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    const used = process.cpuUsage(start);
    if (used.user + used.system >= workUs) break;
  }
  sink = BigInt(x >>> 0);
}

function serve(socket) {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let off = 0;
    const out = [];
    while (buf.length - off >= 4) {
      const n = buf.readUInt32BE(off);
      if (buf.length - off < 4 + n) break;
      doWork();
      out.push(buf.subarray(off, off + 4 + n));
      off += 4 + n;
    }
    if (out.length === 1) socket.write(out[0]);
    else if (out.length > 1) socket.write(Buffer.concat(out));
    buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
  });
  socket.on('error', () => socket.destroy());
}

// Standalone, a stale socket file is ours to remove; under cluster the primary owns it.
if (!cluster.isWorker) {
  try {
    fs.unlinkSync(listenPath);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
}
const server = net.createServer(serve);
server.listen({ path: listenPath, backlog: 4096 });
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
