// A child process, run inside the agent's namespace, that throws malformed HTTP at the
// agent's listeners (its Unix socket and its metrics port on the namespace's loopback),
// then slow senders and idle connections. Argument: JSON
// { targets: [{ name, socket? | host+port }], requestsPerTarget, workers, slow, idle, seed }.
// Prints what it sent and what came back as JSON on exit.
import { connect, type Socket } from 'node:net';

interface Target {
  name: string;
  socket?: string;
  host?: string;
  port?: number;
}
interface FuzzArgs {
  targets: Target[];
  requestsPerTarget: number;
  workers: number;
  slow: number;
  idle: number;
  seed: number;
}

const args = JSON.parse(process.argv[2]!) as FuzzArgs;

/** mulberry32: the same seed gives the same corpus. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Pick = <T>(list: readonly T[]) => T;
type Int = (lo: number, hi: number) => number;
/** A malformed request: its bytes, and whether the sender waits for an answer or aborts after sending. */
interface Attempt {
  bytes: Buffer;
  abort?: boolean;
}

const PATHS = ['/status', '/metrics', '/healthz', '/admin/drain', '/admin/undrain', '/admin/force-backup', '/admin/release', '/', '/x'];
const ADMIN = ['/admin/drain', '/admin/undrain', '/admin/force-backup', '/admin/release', '/admin/reboot'];
const H = 'Host: x\r\n';
const manyHeaders = (n: number): string => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const randomBytes = (int: Int, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
/** Bytes that are never valid UTF-8 on their own (0x80–0xff). */
const high = (int: Int): Buffer => Buffer.from(randomBytes(int, int(1, 30)).map((x) => x | 0x80));
const post = (path: string, body: Buffer | string, extra = ''): Buffer =>
  Buffer.concat([
    b(`POST ${path} HTTP/1.1\r\n${H}${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`),
    Buffer.isBuffer(body) ? body : b(body),
  ]);

// Admin bodies never name the agent's real instance ("web") or a real service: a fuzz
// request must not be a valid admin action (it would force the master to BACKUP).
const KINDS: Record<string, (pick: Pick, int: Int) => Attempt> = {
  'request-line': (pick, int) => ({
    bytes: pick([
      () => b(`${randomBytes(int, int(1, 40)).toString('latin1')}\r\n\r\n`),
      () => b(`GET /status HTTP/${pick(['1.7', '2.0', '0.9', 'x', '', '1.1.1', '11'])}\r\n${H}\r\n`),
      () => b('GET /status\r\n\r\n'),
      () => b(`GET  /status  HTTP/1.1\r\n${H}\r\n`),
      () => b(`GET\t/status\tHTTP/1.1\r\n${H}\r\n`),
      () => b(`\r\n\r\n\r\nGET /status HTTP/1.1\r\n${H}\r\n`),
      () => b(`GET /status\0 HTTP/1.1\r\n${H}\r\n`),
      () => b(`GET /${'r'.repeat(int(9000, 20_000))} HTTP/1.1\r\n${H}\r\n`),
      () => b('HTTP/1.1 200 OK\r\n\r\n'),
    ])(),
  }),
  url: (pick, int) => {
    const target = pick([
      '//x:99999',
      '//x:0',
      '//[::1',
      '//',
      '///',
      '*',
      'http://x:99999/status',
      'http://[zz]/',
      'status',
      '/%',
      '/%zz',
      '/status?%zz',
      '/status#frag',
      '/..%2f..%2fetc/passwd',
      '/admin/../status',
      '/admin/%00',
      '/\x7f',
      '/st\xffus',
      `/${'a'.repeat(int(1000, 20_000))}`,
      `/status?${'q=1&'.repeat(int(10, 4000))}`,
      `//x:${int(65536, 9_999_999)}/metrics`,
    ]);
    return { bytes: b(`${pick(['GET', 'POST', 'HEAD'])} ${target} HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`) };
  },
  method: (pick, int) => {
    const method = pick([
      'BREW',
      'get',
      'G E T',
      'GET\0',
      'CONNECT',
      'OPTIONS',
      'DELETE',
      'PUT',
      'TRACE',
      'PATCH',
      '',
      'A'.repeat(int(1, 60)),
      randomBytes(int, int(1, 12))
        .toString('latin1')
        .replace(/[\r\n ]/g, 'Z'),
    ]);
    if (method === 'CONNECT') return { bytes: b(`CONNECT x:${pick(['99999', '80', ''])} HTTP/1.1\r\n${H}\r\n`) };
    if (method === 'OPTIONS' && int(0, 1)) return { bytes: b(`OPTIONS * HTTP/1.1\r\n${H}\r\n`) };
    if (method === 'PUT') return { bytes: b(`PUT /admin/drain HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\n{}`) };
    if (int(0, 3) === 0) return { bytes: b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') };
    return { bytes: b(`${method} ${pick(PATHS)} HTTP/1.1\r\n${H}\r\n`) };
  },
  header: (pick, int) => {
    const header = pick([
      'X A: b\r\n',
      ': novalue\r\n',
      'X-A: a\rb\r\n',
      'X-A: b\nInjected: c\r\n',
      'X-A: b\r\nInjected\r\n',
      'X-A: b\r\n folded\r\n',
      'NoColon\r\n',
      'X-A: a\0b\r\n',
      `X-Big: ${'b'.repeat(int(9000, 20_000))}\r\n`,
      manyHeaders(int(300, 1500)),
      'Host: y\r\n',
      'Content-Length: abc\r\n',
      'Content-Length: 1, 2\r\n',
      'Content-Length: 99999999999999999999\r\n',
      'Transfer-Encoding: chunked, gzip\r\n',
      'Transfer-Encoding: gzip\r\n',
      'Expect: fancy\r\n',
      'Connection: upgrade\r\nUpgrade: websocket\r\n',
      `X-${'n'.repeat(int(9000, 20_000))}: v\r\n`,
      'X-A:\r\n',
      'X-\x80: v\r\n',
    ]);
    const noHost = int(0, 5) === 0;
    return { bytes: b(`${pick(['GET', 'POST'])} ${pick(PATHS)} HTTP/1.1\r\n${noHost ? '' : H}${header}\r\n`) };
  },
  chunked: (pick, int) => {
    const body = pick([
      'zz\r\n{}\r\n0\r\n\r\n',
      '-1\r\n{}\r\n0\r\n\r\n',
      'ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n',
      '5\r\n{}\r\n0\r\n\r\n',
      `2;${'e'.repeat(int(5000, 30_000))}\r\n{}\r\n0\r\n\r\n`,
      '2\n{}\n0\n\n',
      '0\r\nX Y: z\r\n\r\n',
      '2\r\n{}\r\n',
      '2\r\n{}',
      '\r\n\r\n',
      `${(70_000).toString(16)}\r\n${'x'.repeat(70_000)}\r\n0\r\n\r\n`,
    ]);
    return { bytes: b(`POST ${pick(ADMIN)} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${body}`) };
  },
  'truncated-body': (pick, int) => {
    // Cut in the headers or in the body, then either reset (abort) or half-closed (the server sees EOF).
    const abort = int(0, 1) === 0;
    if (int(0, 2) === 0) return { bytes: b(`POST /admin/drain HTTP/1.1\r\n${H}Content-Le`), abort };
    const declared = int(10, 70_000);
    const body = '{'.repeat(int(0, declared - 1));
    return { bytes: b(`POST ${pick(ADMIN)} HTTP/1.1\r\n${H}Content-Length: ${declared}\r\n\r\n${body}`), abort };
  },
  'oversized-body': (pick, int) => {
    const size = int(65 * 1024, 80 * 1024);
    return { bytes: post(pick(ADMIN), `{"service":"${'s'.repeat(size)}"}`) };
  },
  'bad-json': (pick, int) => ({
    bytes: post(
      pick(ADMIN),
      pick([
        '{',
        '{"service":',
        '[]',
        '"str"',
        '123',
        'null',
        'true',
        '{"service": 1, "real_server": []}',
        '{"instance": {"$gt": ""}}',
        '{"__proto__": {"polluted": 1}, "service": "nope", "real_server": "10.9.9.9"}',
        '['.repeat(int(100, 10_000)),
        '{"instance": "nope", "for": "1e400d"}',
        '{"instance": "nope", "for": -1}',
        '{"instance": "nope", "for": "99999999999d"}',
        '{"instance": "nope", "for": "5 fortnights"}',
        '{"instance": ""}',
        '{"service": "nope", "real_server": "10.9.9.9:99999"}',
        '{"instance": "nope", "for": 1.5e308}',
        randomBytes(int, int(1, 200)).toString('latin1'),
        '{"a":1}garbage',
      ]),
    ),
  }),
  'non-utf8': (pick, int) => ({
    bytes: pick([
      () => Buffer.concat([b('GET /'), high(int), b(` HTTP/1.1\r\n${H}\r\n`)]),
      () => Buffer.concat([b(`GET /status HTTP/1.1\r\n${H}X-A: `), high(int), b('\r\n\r\n')]),
      () => post(pick(ADMIN), Buffer.concat([b('{"service":"'), high(int), b('"}')])),
      () => Buffer.concat([randomBytes(int, int(1, 10)).map((x) => x | 0x80), b(` /status HTTP/1.1\r\n${H}\r\n`)]),
    ])(),
  }),
};
const KIND_NAMES = Object.keys(KINDS);

function connectTo(target: Target): Socket {
  return target.socket ? connect(target.socket) : connect(target.port!, target.host);
}

/** The answer's status code, 'none' (closed without one), 'timeout', or 'aborted' (the sender cut it). */
function exchange(target: Target, attempt: Attempt, pieces: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connectTo(target);
    let head = '';
    let done = false;
    const finish = (result: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const verdict = (): string => /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 'none';
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (d: Buffer) => {
      if (head.length < 64) head += d.toString('latin1');
    });
    socket.on('close', () => finish(verdict()));
    socket.on('error', () => finish(verdict()));
    socket.on('connect', () => {
      // Split across writes, so the parser also sees the request cut at odd places.
      const size = Math.ceil(attempt.bytes.length / pieces);
      for (let at = 0; at < attempt.bytes.length; at += size) socket.write(attempt.bytes.subarray(at, at + size));
      if (attempt.abort) setImmediate(() => finish('aborted'));
      else socket.end();
    });
  });
}

interface KindTally {
  sent: number;
  answers: Record<string, number>;
  maxMs: number;
  totalMs: number;
}

async function fuzz(target: Target, seed: number): Promise<Record<string, KindTally>> {
  const random = rng(seed);
  const int: Int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
  const pick: Pick = (list) => list[Math.floor(random() * list.length)]!;
  const tally: Record<string, KindTally> = Object.fromEntries(KIND_NAMES.map((k) => [k, { sent: 0, answers: {}, maxMs: 0, totalMs: 0 }]));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < args.requestsPerTarget) {
      const kind = KIND_NAMES[next++ % KIND_NAMES.length]!;
      const attempt = KINDS[kind]!(pick, int);
      const began = performance.now();
      const result = await exchange(target, attempt, int(1, 3), 8000);
      const ms = performance.now() - began;
      const t = tally[kind]!;
      t.sent++;
      t.totalMs += ms;
      t.maxMs = Math.max(t.maxMs, Math.round(ms));
      t.answers[result] = (t.answers[result] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: args.workers }, worker));
  return tally;
}

interface HeldTally {
  opened: number;
  connectErrors: number;
  refused: number;
  answered408: number;
  otherAnswer: number;
  stillOpen: number;
  closedAfterMs: number[];
}

/**
 * Connections that trickle (a header line or a body byte every 250 ms) or say nothing
 * at all, held until the server closes them or `deadlineMs` passes.
 */
async function hold(target: Target, count: number, mode: 'slowloris' | 'slow-body' | 'idle', deadlineMs: number): Promise<HeldTally> {
  const tally: HeldTally = {
    opened: 0,
    connectErrors: 0,
    refused: 0,
    answered408: 0,
    otherAnswer: 0,
    stillOpen: 0,
    closedAfterMs: [],
  };
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const socket = connectTo(target);
      const started = Date.now();
      let head = '';
      let connected = false;
      let done = false;
      let ticker: NodeJS.Timeout | undefined;
      const finish = (stillOpen: boolean): void => {
        if (done) return;
        done = true;
        clearInterval(ticker);
        clearTimeout(deadline);
        socket.destroy();
        if (!connected) tally.connectErrors++;
        else if (stillOpen) tally.stillOpen++;
        else {
          tally.closedAfterMs.push(Date.now() - started);
          const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
          if (status === undefined) tally.refused++;
          else if (status === '408') tally.answered408++;
          else tally.otherAnswer++;
        }
        resolve();
      };
      const deadline = setTimeout(() => finish(true), deadlineMs);
      socket.on('data', (d: Buffer) => {
        if (head.length < 64) head += d.toString('latin1');
      });
      socket.on('close', () => finish(false));
      socket.on('error', () => finish(false));
      socket.on('connect', () => {
        connected = true;
        tally.opened++;
        if (mode === 'idle') return;
        socket.write(
          mode === 'slowloris' ? `GET /status HTTP/1.1\r\n${H}` : `POST /admin/drain HTTP/1.1\r\n${H}Content-Length: 100000\r\n\r\n`,
        );
        let n = 0;
        const trickle = (): string => (mode === 'slowloris' ? `X-Slow-${i}-${n++}: a\r\n` : ' ');
        ticker = setInterval(() => {
          if (!socket.destroyed) socket.write(trickle());
        }, 250);
      });
    });
  // Opened in batches, as fast as the listener's backlog takes them.
  const all: Promise<void>[] = [];
  for (let i = 0; i < count; i += 100) {
    for (let j = i; j < Math.min(count, i + 100); j++) all.push(one(j));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(all);
  tally.closedAfterMs.sort((x, y) => x - y);
  return tally;
}

const summary = (ms: number[]) => ({ min: ms[0] ?? NaN, p50: ms[Math.floor(ms.length / 2)] ?? NaN, max: ms.at(-1) ?? NaN });

const phaseA = Date.now();
const requests = await Promise.all(args.targets.map((t, i) => fuzz(t, args.seed + i)));
const phaseB = Date.now();
const held = await Promise.all(
  args.targets.map(async (t) => {
    const [slowloris, slowBody, idle] = await Promise.all([
      hold(t, args.slow, 'slowloris', 20_000),
      hold(t, args.slow, 'slow-body', 20_000),
      hold(t, args.idle, 'idle', 20_000),
    ]);
    const view = (x: HeldTally) => ({ ...x, closedAfterMs: summary(x.closedAfterMs) });
    return { slowloris: view(slowloris), slowBody: view(slowBody), idle: view(idle) };
  }),
);
const end = Date.now();
process.stdout.write(
  `${JSON.stringify({
    phases: { requests: [phaseA, phaseB], slowAndIdle: [phaseB, end] },
    targets: args.targets.map((t, i) => ({ name: t.name, requests: requests[i], held: held[i] })),
  })}\n`,
);
