// The lab's long-lived connection: one TCP connection to the VIP carrying an
// HTTP/1.1 keep-alive request every --every ms, the next sent when the previous
// is answered. It never reconnects: if the connection breaks, it says so and
// exits, so "still answered after the failover" means this same connection.
// Each answer reports which real server answered and how many requests the
// server has seen on this connection (realserver-http.ts).
import { connect } from 'node:net';
import { monoMs } from './mono.js';
import { whoFromBody, type RequestSample } from './samples.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const host = arg('host', '10.6.2.195');
const port = Number(arg('port', '80'));
const everyMs = Number(arg('every', '200'));
// Through a failover TCP retransmits with backoff; allow it well beyond the outage.
const answerTimeoutMs = Number(arg('timeout', '20000'));
const maxMs = Number(arg('max-seconds', '900')) * 1000;
const started = monoMs();

function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const socket = connect({ host, port, noDelay: true });
let seq = 0;
let pending: { sample: RequestSample; timer: NodeJS.Timeout } | undefined;
let buffer = '';
let closed = false;
// Kept from the connect: a destroyed socket no longer knows its port.
let localPort: number | undefined;

function close(error: string): void {
  if (closed) return;
  closed = true;
  if (pending) {
    clearTimeout(pending.timer);
    emit({ ...pending.sample, done: monoMs(), ok: false, error });
  }
  emit({ kind: 'closed', t: monoMs(), error, localPort });
  socket.destroy();
  setTimeout(() => process.exit(0), 50);
}

function send(): void {
  if (closed) return;
  if (monoMs() - started > maxMs) {
    close('max-seconds reached');
    return;
  }
  const sample: RequestSample = {
    kind: 'long',
    seq: seq++,
    sent: monoMs(),
    done: 0,
    ok: false,
    ...(localPort !== undefined ? { localPort } : {}),
  };
  pending = { sample, timer: setTimeout(() => close(`no answer within ${answerTimeoutMs} ms`), answerTimeoutMs) };
  socket.write(`GET /long HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
}

/** Takes complete responses (headers + content-length body) off the buffer. */
function drain(): void {
  for (;;) {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buffer.slice(0, end);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (buffer.length < end + 4 + length) return;
    const body = buffer.slice(end + 4, end + 4 + length);
    buffer = buffer.slice(end + 4 + length);
    const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0);
    const count = Number(/\r\nx-connection-requests:\s*(\d+)/i.exec(head)?.[1] ?? Number.NaN);
    if (!pending) continue;
    clearTimeout(pending.timer);
    const who = whoFromBody(body);
    emit({
      ...pending.sample,
      done: monoMs(),
      ok: status === 200,
      ...(who ? { who } : {}),
      ...(status === 200 ? {} : { error: `HTTP ${status}` }),
      ...(Number.isFinite(count) ? { connectionRequests: count } : {}),
    });
    pending = undefined;
    setTimeout(send, everyMs);
  }
}

socket.setEncoding('utf8');
socket.on('connect', () => {
  localPort = socket.localPort;
  emit({ kind: 'connected', t: monoMs(), localPort });
  send();
});
socket.on('data', (chunk: string) => {
  buffer += chunk;
  drain();
});
socket.on('error', (err: NodeJS.ErrnoException) => close(err.code ?? err.message));
socket.on('end', () => close('closed by the server'));
process.on('SIGTERM', () => {
  closed = true;
  socket.destroy();
  process.exit(0);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
