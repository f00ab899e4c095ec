// Preloaded into every Node.js process of the engine (NODE_OPTIONS=--require ...), its
// background daemons included: a connection to anything but loopback is refused before a name
// is looked up or a packet leaves, and recorded (one JSON line) in $OFFLINE_GUARD_LOG.
'use strict';
const fs = require('fs');
const net = require('net');
const dns = require('dns');

const LOG = process.env.OFFLINE_GUARD_LOG;
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

function refused(what) {
  if (LOG) {
    fs.appendFileSync(LOG, JSON.stringify({ pid: process.pid, script: process.argv[1], what }) + '\n');
  }
  const err = new Error(`offline guard: refused ${what}`);
  err.code = 'ECONNREFUSED';
  return err;
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  let options = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof options !== 'object' || options === null) {
    options = { port: args[0], host: typeof args[1] === 'string' ? args[1] : undefined };
  }
  if (!options.path) {   // unix sockets stay local
    const host = options.host || 'localhost';
    if (!LOOPBACK.test(host)) {
      const err = refused(`connect ${host}:${options.port}`);
      process.nextTick(() => this.destroy(err));
      return this;
    }
  }
  return connect.apply(this, args);
};

const lookup = dns.lookup;
dns.lookup = function guardedLookup(hostname, ...rest) {
  if (!LOOPBACK.test(String(hostname))) {
    const callback = rest[rest.length - 1];
    const err = refused(`lookup ${hostname}`);
    err.code = 'ENOTFOUND';
    process.nextTick(() => callback(err));
    return {};
  }
  return lookup.call(this, hostname, ...rest);
};
