// The host protocol both Node hosts speak (host.cjs here, and the browser
// host in ../chromium): one JSON request per line on stdin, one JSON reply per
// line on stdout, `{id, ok, ...}`. Everything the runtimes print goes to
// stderr, so stdout carries nothing but replies.
'use strict';

const readline = require('readline');

const reply = (message) => process.stdout.write(JSON.stringify(message) + '\n');
for (const level of ['log', 'info', 'warn', 'debug']) console[level] = (...args) => console.error(...args);

// Answer requests with `ops[request.op](request)` until stdin closes, then
// call `onClose`.
async function serve(ops, onClose = async () => {}) {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let request = {};
    try {
      request = JSON.parse(line);
      const op = ops[request.op];
      if (!op) throw new Error(`unknown op ${request.op}`);
      reply({ id: request.id, ok: true, ...(await op(request)) });
    } catch (error) {
      reply({ id: request.id, ok: false, error: String(error && error.message ? error.message : error) });
    }
  }
  await onClose();
}

module.exports = { serve };
