// The ECMP lab's client: one event-driven process that holds N long-lived TCP
// connections to the VIP (a request every 200 ms on each, spread over 20 ms ticks so
// there is no burst) and opens new short connections at a steady rate. It prints one
// JSON line of counts for each line on stdin ("m" instead marks a moment: the
// longest silences of the long connections are counted from it). Times are epoch milliseconds
// (timeOrigin + now) so that the lab, another process, can compare them with its own.
//   node ecmp-traffic.js VIP PORT LONG NEW_PER_SEC
// (A script: other modules import only its types.)
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

export interface LongConnectionState {
  /** Answers received. */
  a: number;
  /** The real server that answered last ("rs2"). */
  rs: string;
  /** Ended by a TCP reset. */
  reset: boolean;
  ended: boolean;
  /** The error that ended it, if any (ECONNRESET, ETIMEDOUT, EPIPE...). */
  error: string;
  /** The longest time without an answer since the last mark (ms), the current silence included while open. */
  gap: number;
}

export interface NewConnectionFailure {
  /** When the attempt started (epoch ms). */
  t: number;
  /** ECONNREFUSED, ECONNRESET, timeout, ... */
  code: string;
  /** The client's source port (0 when the kernel had not assigned one): finds the attempt in `ipvsadm -Lnc`. */
  port: number;
}

export interface TrafficStats {
  /** When the stats were taken (epoch ms). */
  now: number;
  /** How many long connections the client holds once it has opened them all (it opens them in batches). */
  longWanted: number;
  long: LongConnectionState[];
  newOk: number;
  newFail: number;
  /** Failed with a refusal or a reset (a listener-less kernel answered). */
  newRefused: number;
  /** Answered, but only after a retransmitted SYN (over 900 ms). */
  newSlow: number;
  /** The latest failures, oldest first (at most 5000). */
  failures: NewConnectionFailure[];
  /** When the oldest new connection still waiting for its answer started (epoch ms); 0 when none waits. */
  oldestPending: number;
}

const REQUEST_EVERY_MS = 200;
const TICK_MS = 20;
const NEW_TIMEOUT_MS = 3000;
const SLOW_MS = 900;
const MAX_FAILURES = 5000;

const epochMs = (): number => Math.round(performance.timeOrigin + performance.now());

function main(argv: string[]): void {
  const [vip = '', portText = '', longText = '', rateText = ''] = argv;
  const port = Number(portText);
  const longCount = Number(longText);
  const newPerSec = Number(rateText);
  const long: LongConnectionState[] = [];
  const sockets: Socket[] = [];
  const stats = { newOk: 0, newFail: 0, newRefused: 0, newSlow: 0 };
  const failures: NewConnectionFailure[] = [];
  /** New connections waiting for their answer: attempt number → start (epoch ms). */
  const pending = new Map<number, number>();
  let attempts = 0;
  /** Per long connection: when it was last answered, and its longest silence since the mark. */
  const lastAnswer: number[] = [];
  const longestGap: number[] = [];

  const openLong = (i: number): void => {
    const c: LongConnectionState = { a: 0, rs: '', reset: false, ended: false, error: '', gap: 0 };
    long[i] = c;
    lastAnswer[i] = epochMs();
    longestGap[i] = 0;
    const s = connect({ host: vip, port });
    sockets[i] = s;
    s.setNoDelay(true);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      const at = epochMs();
      longestGap[i] = Math.max(longestGap[i]!, at - lastAnswer[i]!);
      lastAnswer[i] = at;
      for (let j = buf.indexOf('\n'); j >= 0; j = buf.indexOf('\n')) {
        c.a++;
        c.rs = buf.slice(0, j).split(':')[0] ?? '';
        buf = buf.slice(j + 1);
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      c.error = e.code ?? e.message;
      if (e.code === 'ECONNRESET') c.reset = true;
    });
    s.on('close', () => {
      c.ended = true;
    });
  };
  // Opened 25 at a time, so that 300 SYNs do not arrive in one burst.
  let opened = 0;
  const opener = setInterval(() => {
    for (let k = 0; k < 25 && opened < longCount; k++) openLong(opened++);
    if (opened >= longCount) clearInterval(opener);
  }, 50);

  let tick = 0;
  const slots = REQUEST_EVERY_MS / TICK_MS;
  setInterval(() => {
    const slot = tick++ % slots;
    for (let i = slot; i < sockets.length; i += slots) {
      const s = sockets[i];
      if (s && !long[i]!.ended && s.writable) s.write('p\n');
    }
  }, TICK_MS);

  const openNew = (): void => {
    const started = epochMs();
    const s = connect({ host: vip, port });
    // Node issues the connect in a next-tick callback (for an address); this one runs right
    // after it, before any answer can be read (a refusal destroys the handle and its port).
    let localPort = 0;
    process.nextTick(() => {
      localPort = s.localPort ?? 0;
    });
    const attempt = attempts++;
    pending.set(attempt, started);
    let done = false;
    const finish = (code: string): void => {
      if (done) return;
      done = true;
      localPort ||= s.localPort ?? 0;
      s.destroy();
      pending.delete(attempt);
      if (code === '') {
        stats.newOk++;
        if (epochMs() - started > SLOW_MS) stats.newSlow++;
        return;
      }
      stats.newFail++;
      if (code === 'ECONNREFUSED' || code === 'ECONNRESET') stats.newRefused++;
      failures.push({ t: started, code, port: localPort });
      if (failures.length > MAX_FAILURES) failures.shift();
    };
    s.setTimeout(NEW_TIMEOUT_MS, () => finish('timeout'));
    s.on('connect', () => s.write('n\n'));
    s.on('data', () => finish(''));
    s.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    s.on('close', () => finish('closed'));
  };
  if (newPerSec > 0) setInterval(openNew, 1000 / newPerSec);

  createInterface({ input: process.stdin }).on('line', (line) => {
    const now = epochMs();
    if (line === 'm') {
      longestGap.fill(0);
      return;
    }
    long.forEach((c, i) => {
      c.gap = c.ended ? longestGap[i]! : Math.max(longestGap[i]!, now - lastAnswer[i]!);
    });
    const oldestPending = pending.size > 0 ? Math.min(...pending.values()) : 0;
    const out: TrafficStats = { now, longWanted: longCount, long, ...stats, failures, oldestPending };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  });
  process.stdin.on('end', () => process.exit(0));
}

main(process.argv.slice(2));
