// Small helpers shared by the client tests.
import { withTimeout } from './server.mjs';

/** Resolves with the arguments of the next `event` on `emitter`, or rejects after `ms`. */
export function nextEvent(emitter, event, ms = 5000) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, ms, `event '${event}'`).finally(() => emitter.removeListener(event, handler));
}

/**
 * Collects items pushed by `push` into an array; `waitLength(n)` resolves once n items arrived
 * (and rejects after `ms` showing what did arrive).
 */
export function collector() {
  const items = [];
  const waiters = [];
  const push = (item) => {
    items.push(item);
    for (const w of [...waiters]) {
      if (items.length >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(items); }
    }
  };
  const waitLength = (n, ms = 5000) => {
    if (items.length >= n) return Promise.resolve(items);
    let w;
    const p = new Promise((resolve) => { w = { n, resolve }; waiters.push(w); });
    return withTimeout(p, ms, `${n} items (got ${items.length}: ` +
      `${JSON.stringify(items.slice(-5)).slice(0, 400)})`)
      .catch((e) => { waiters.splice(waiters.indexOf(w), 1); throw e; });
  };
  const clear = () => { items.length = 0; };
  return { items, push, waitLength, clear };
}

/** Every byte value, CR LF sequences, RESP-looking text, NULs, then `extra` random bytes. */
export function binaryPayload(extra = 0) {
  const bytes = [];
  for (let i = 0; i < 256; i++) bytes.push(i);
  const head = Buffer.from(bytes);
  const tricky = Buffer.from('\r\n$5\r\nhello\r\n*2\r\n\0\0\r\n+OK\r\n-ERR\r\n:1\r\n', 'latin1');
  const rest = Buffer.alloc(extra);
  // Deterministic pseudo-random bytes (xorshift32) so a failure is reproducible.
  let x = 0x9e3779b9;
  for (let i = 0; i < extra; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    rest[i] = x & 0xff;
  }
  return Buffer.concat([head, tricky, rest]);
}
