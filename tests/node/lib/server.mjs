// Starts a backplane-server (or, to validate the tests themselves, a redis-server) on a free
// loopback port and kills it by PID afterwards.
//
//   BACKPLANE_SERVER  the binary to run; default <repo>/build/server/backplane-server.
//                     A binary named redis-server* gets `--save '' --appendonly no` as well.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../../..');
export const SERVER_BIN = process.env.BACKPLANE_SERVER ||
  path.join(REPO_ROOT, 'build/server/backplane-server');
export const IS_REDIS = path.basename(SERVER_BIN).startsWith('redis-server');
export const HOST = '127.0.0.1';

const live = new Set();
/** Kills every server (and other registered child) still running; for the exit handler. */
export function registerChild(child) {
  live.add(child);
  child.on('exit', () => live.delete(child));
}
// Last resort: whatever way this process ends, no server it started outlives it.
process.on('exit', () => {
  for (const child of live) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/** A port that was free a moment ago: bind port 0 on loopback, read it, close. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects with a message naming `what` if `promise` has not settled within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `fn` (sync or async) until it returns a truthy value; returns that value. */
export async function waitFor(fn, { timeout = 5000, interval = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { lastErr = e; }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}` +
        (lastErr ? ` (last error: ${lastErr.message})` : ''));
    }
    await sleep(interval);
  }
}

/** Sends one command in RESP2 on a fresh connection and returns the first reply line. */
export function rawCommandFirstLine(port, args, ms = 1000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('raw command timed out')); }, ms);
    sock.on('connect', () => {
      sock.write(`*${args.length}\r\n` +
        args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
    });
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\r\n');
      if (i >= 0) { clearTimeout(timer); sock.destroy(); resolve(buf.slice(0, i)); }
    });
    sock.on('error', (e) => { clearTimeout(timer); sock.destroy(); reject(e); });
  });
}

class ServerProcess {
  constructor(child, port, password) {
    this.child = child;
    this.pid = child.pid;
    this.port = port;
    this.password = password;
    this.out = '';
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code ?? signal;
        live.delete(child);
        resolve(this.exitCode);
      });
    });
    const keep = (d) => { this.out = (this.out + d.toString()).slice(-20000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
  }

  get running() { return this.exitCode === undefined; }

  /** Kills the server by its PID and waits for it to exit (SIGKILL after 5 s). */
  async stop(signal = 'SIGTERM') {
    if (!this.running) return this.exitCode;
    try { process.kill(this.pid, signal); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    try { return await this.exited; } finally { clearTimeout(t); }
  }
}

async function startOnce(port, password) {
  const args = ['--port', String(port), '--bind', HOST];
  if (password !== undefined) args.push('--requirepass', password);
  if (IS_REDIS) args.push('--save', '', '--appendonly', 'no');
  const child = spawn(SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  // A server that a failed test forgot must not keep the test process alive: the 'exit'
  // handler above kills it when the process ends.
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();
  const srv = new ServerProcess(child, port, password);
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new Error(`cannot start ${SERVER_BIN}: ${e.message}`)));
  });
  const deadline = Date.now() + 10000;
  for (;;) {
    if (!srv.running) return srv; // caller inspects the output
    try {
      const line = await rawCommandFirstLine(port, ['PING'], 500);
      if (line === '+PONG' || line.startsWith('-NOAUTH')) return srv;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await srv.stop('SIGKILL');
      throw new Error(`${SERVER_BIN} did not answer PING on port ${port} within 10 s:\n${srv.out}`);
    }
    await sleep(20);
  }
}

/**
 * Starts a server. Without `port`, picks a free one (and retries with another if it was taken
 * in the meantime). Returns an object with port, pid, stop().
 */
export async function startServer({ port, password } = {}) {
  for (let attempt = 0; ; attempt++) {
    const p = port ?? await freePort();
    const srv = await startOnce(p, password);
    if (srv.running) return srv;
    const inUse = /already in use/i.test(srv.out);
    if (port === undefined && inUse && attempt < 5) continue;
    throw new Error(`${SERVER_BIN} exited (${srv.exitCode}) on port ${p}:\n${srv.out}`);
  }
}
