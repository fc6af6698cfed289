// The lab client's request loop: a new TCP connection and one GET every --every
// ms (each with a --timeout ms deadline), so every request is scheduled by IPVS
// afresh. Requests start on a fixed cadence whether or not earlier ones have
// ended, so an outage is measured to the cadence. One JSON line per request
// (samples.ts), timestamps on the system-wide monotonic clock.
import { request } from 'node:http';
import { monoMs } from './mono.js';
import { whoFromBody, type RequestSample } from './samples.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const url = new URL(arg('url', 'http://10.6.2.195/'));
const everyMs = Number(arg('every', '50'));
const timeoutMs = Number(arg('timeout', '300'));
// A bound on the whole run, in case the orchestrator dies without killing us.
const maxMs = Number(arg('max-seconds', '900')) * 1000;
const started = monoMs();
let seq = 0;

function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function once(): void {
  const sample: RequestSample = { kind: 'request', seq: seq++, sent: monoMs(), done: 0, ok: false };
  let finished = false;
  const finish = (ok: boolean, detail: Partial<RequestSample>): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    emit({ ...sample, ...detail, ok, done: monoMs() });
  };
  const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      body += chunk;
    });
    res.on('end', () => {
      const who = whoFromBody(body);
      if (res.statusCode === 200) finish(true, { ...(who ? { who } : {}), localPort: req.socket?.localPort });
      else finish(false, { error: `HTTP ${res.statusCode}`, ...(who ? { who } : {}) });
    });
    res.on('error', (err: NodeJS.ErrnoException) => finish(false, { error: err.code ?? err.message }));
  });
  const timer = setTimeout(() => {
    finish(false, { error: 'timeout' });
    req.destroy();
  }, timeoutMs);
  req.on('error', (err: NodeJS.ErrnoException) => finish(false, { error: err.code ?? err.message }));
  req.end();
}

emit({ kind: 'ready', t: started });
const ticker = setInterval(() => {
  if (monoMs() - started > maxMs) {
    clearInterval(ticker);
    emit({ kind: 'exit', t: monoMs() });
    setTimeout(() => process.exit(0), timeoutMs + 50);
    return;
  }
  once();
}, everyMs);
process.on('SIGTERM', () => process.exit(0));
// The orchestrator holds our stdin: when it goes away, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
