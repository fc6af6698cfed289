// Reads one HTTP/1.x response from the bytes a connection delivers, for the http and
// https checks: the status line, the two headers that frame the body
// (Content-Length, Transfer-Encoding) and the body, de-chunked. Pure: bytes in,
// state out; the caller owns the socket. Bytes may arrive split anywhere, and the
// buffer handed to feed() may be reused afterwards (only a head split across reads
// is copied), so a probe can read every connection into one shared buffer.
//
// What it accepts is what a health check needs to judge a server, not a general
// client: interim 1xx responses are skipped, framing follows RFC 9112 §6.3, and
// anything it cannot frame is an error with a reason, never an exception.

/** The head (status line and headers) may be at most this long: Node's and undici's default. */
export const MAX_HEAD_BYTES = 16384;

/** Receives the body bytes [start, end) of `chunk`; the chunk may be reused after the call. */
export interface BodySink {
  body(chunk: Buffer, start: number, end: number): void;
}

/** Where a response stands after feed() or end(). */
export type ReadStep = 'head' | 'body' | 'done' | 'error';

const CR = 13;
const LF = 10;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const STATUS_PREFIX = 'HTTP/1.';

// Body framing.
const NO_BODY = 0;
const LENGTH = 1;
const CHUNKED = 2;
const UNTIL_CLOSE = 3;

// Chunked decoding states.
const SIZE = 0;
const SIZE_TAIL = 1; // after the digits: spaces, an extension, then CRLF
const DATA = 2;
const DATA_CR = 3;
const DATA_LF = 4;
const SIZE_LF = 5;

const MAX_CHUNK_DIGITS = 8;

function hexValue(b: number): number {
  if (b >= 48 && b <= 57) return b - 48;
  if (b >= 97 && b <= 102) return b - 87;
  if (b >= 65 && b <= 70) return b - 55;
  return -1;
}

/** Whether buf[start, start+name.length) is `name` (lower case, ASCII) in any case. */
function nameIs(buf: Buffer, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if ((buf[start + i]! | 0x20) !== name.charCodeAt(i)) return false;
  return true;
}

function isSpace(b: number | undefined): boolean {
  return b === 32 || b === 9;
}

function shown(buf: Buffer, start: number, end: number): string {
  return JSON.stringify(buf.toString('latin1', start, Math.min(end, start + 40)));
}

export class ResponseReader {
  /** The final status code, once the head is read (0 before). */
  status = 0;
  /** Why the response cannot be read, once a step says 'error'. */
  error = '';
  /** Body bytes delivered to the sink so far. */
  bodyBytes = 0;
  private step: ReadStep = 'head';
  private pending: Buffer | undefined;
  private framing = NO_BODY;
  private remaining = 0;
  private chunkState = SIZE;
  private digits = 0;

  /** `headRequest`: the request was HEAD, so the response has no body whatever its headers say. */
  constructor(private readonly headRequest = false) {}

  /** Reads buf[start, end). */
  feed(buf: Buffer, start: number, end: number, sink: BodySink): ReadStep {
    if (this.step === 'head') {
      if (this.pending) {
        const joined = Buffer.allocUnsafe(this.pending.length + end - start);
        this.pending.copy(joined, 0);
        buf.copy(joined, this.pending.length, start, end);
        this.pending = undefined;
        return this.readHeads(joined, 0, joined.length, sink);
      }
      return this.readHeads(buf, start, end, sink);
    }
    if (this.step === 'body') this.readBody(buf, start, end, sink);
    return this.step;
  }

  /** The server closed the connection. */
  end(): ReadStep {
    if (this.step === 'head') {
      this.fail(this.pending ? 'closed by the server in the response headers' : 'closed by the server before any response');
    } else if (this.step === 'body') {
      if (this.framing === UNTIL_CLOSE) this.step = 'done';
      else if (this.framing === LENGTH)
        this.fail(`closed by the server after ${this.bodyBytes} of ${this.bodyBytes + this.remaining} body bytes`);
      else this.fail(`closed by the server in the chunked body after ${this.bodyBytes} bytes`);
    }
    return this.step;
  }

  private fail(reason: string): ReadStep {
    this.error = reason;
    this.step = 'error';
    this.pending = undefined;
    return 'error';
  }

  // Heads, since interim (1xx) responses come before the final one.
  private readHeads(buf: Buffer, start: number, end: number, sink: BodySink): ReadStep {
    for (;;) {
      // Refuse what is not HTTP as soon as its first bytes show it.
      const seen = Math.min(end - start, STATUS_PREFIX.length);
      for (let i = 0; i < seen; i++)
        if (buf[start + i] !== STATUS_PREFIX.charCodeAt(i)) return this.fail(`not an HTTP/1.x response: ${shown(buf, start, end)}`);
      let at = buf.indexOf(HEAD_END, start);
      // indexOf looks past `end` (a reused buffer holds old bytes there).
      if (at >= 0 && at + 4 > end) at = -1;
      if (at < 0) {
        if (end - start > MAX_HEAD_BYTES) return this.fail(`response headers longer than ${MAX_HEAD_BYTES} bytes`);
        this.pending = Buffer.allocUnsafe(end - start);
        buf.copy(this.pending, 0, start, end);
        return 'head';
      }
      if (at + 4 - start > MAX_HEAD_BYTES) return this.fail(`response headers longer than ${MAX_HEAD_BYTES} bytes`);
      const problem = this.readHead(buf, start, at + 2);
      if (problem) return this.fail(problem);
      start = at + 4;
      // 101 is final (a switch the check did not ask for: judged by its status).
      if (this.status >= 100 && this.status < 200 && this.status !== 101) {
        this.status = 0;
        if (start === end) return 'head';
        continue;
      }
      if (this.framing === NO_BODY || (this.framing === LENGTH && this.remaining === 0)) {
        this.step = 'done';
        return 'done';
      }
      this.step = 'body';
      if (start < end) this.readBody(buf, start, end, sink);
      return this.step;
    }
  }

  /** Reads the status line and the framing headers of the head in [start, end) (every line ends in CRLF); a problem or ''. */
  private readHead(buf: Buffer, start: number, end: number): string {
    let eol = buf.indexOf(CR, start);
    // "HTTP/1.x NNN" then a space and a reason, or nothing.
    const v = buf[start + 7]!;
    const statusOk =
      eol - start >= 12 &&
      v >= 48 &&
      v <= 57 &&
      buf[start + 8] === 32 &&
      buf[start + 9]! >= 49 &&
      buf[start + 9]! <= 53 &&
      buf[start + 10]! >= 48 &&
      buf[start + 10]! <= 57 &&
      buf[start + 11]! >= 48 &&
      buf[start + 11]! <= 57 &&
      (eol - start === 12 || buf[start + 12] === 32);
    if (!statusOk || buf[eol + 1] !== LF) return `bad status line ${shown(buf, start, eol)}`;
    this.status = (buf[start + 9]! - 48) * 100 + (buf[start + 10]! - 48) * 10 + (buf[start + 11]! - 48);
    let length = -1;
    let transfer: 'none' | 'chunked' | 'other' = 'none';
    for (let line = eol + 2; line < end; line = eol + 2) {
      eol = buf.indexOf(CR, line);
      if (eol < 0 || eol >= end || buf[eol + 1] !== LF) return `bad header line ${shown(buf, line, end)}`;
      // An obsolete folded line continues the one before; neither framing header may be folded usefully.
      if (isSpace(buf[line])) continue;
      const colon = buf.indexOf(58, line);
      if (colon < 0 || colon > eol || colon === line) return `bad header line ${shown(buf, line, eol)}`;
      let vs = colon + 1;
      let ve = eol;
      while (vs < ve && isSpace(buf[vs])) vs++;
      while (ve > vs && isSpace(buf[ve - 1])) ve--;
      if (nameIs(buf, line, colon, 'content-length')) {
        let n = 0;
        if (ve === vs || ve - vs > 15) return `bad Content-Length ${shown(buf, vs, ve)}`;
        for (let i = vs; i < ve; i++) {
          const d = buf[i]! - 48;
          if (d < 0 || d > 9) return `bad Content-Length ${shown(buf, vs, ve)}`;
          n = n * 10 + d;
        }
        if (length >= 0 && n !== length) return 'two different Content-Length headers';
        length = n;
      } else if (nameIs(buf, line, colon, 'transfer-encoding')) {
        // The last coding decides: chunked, or the body runs until the close.
        let last = ve;
        while (last > vs && buf[last - 1] !== 44) last--;
        while (last < ve && isSpace(buf[last])) last++;
        transfer = nameIs(buf, last, ve, 'chunked') ? 'chunked' : 'other';
      }
    }
    const s = this.status;
    if (this.headRequest || (s >= 100 && s < 200) || s === 204 || s === 304) this.framing = NO_BODY;
    else if (transfer === 'chunked') {
      this.framing = CHUNKED;
      this.chunkState = SIZE;
      this.remaining = 0;
      this.digits = 0;
    } else if (transfer === 'other') this.framing = UNTIL_CLOSE;
    else if (length >= 0) {
      this.framing = LENGTH;
      this.remaining = length;
    } else this.framing = UNTIL_CLOSE;
    return '';
  }

  private deliver(buf: Buffer, start: number, end: number, sink: BodySink): void {
    this.bodyBytes += end - start;
    sink.body(buf, start, end);
  }

  private readBody(buf: Buffer, start: number, end: number, sink: BodySink): void {
    if (this.framing === UNTIL_CLOSE) return this.deliver(buf, start, end, sink);
    if (this.framing === LENGTH) {
      const take = Math.min(this.remaining, end - start);
      this.remaining -= take;
      if (take > 0) this.deliver(buf, start, start + take, sink);
      if (this.remaining === 0) this.step = 'done';
      return;
    }
    let i = start;
    while (i < end && this.step === 'body') {
      const b = buf[i]!;
      switch (this.chunkState) {
        case SIZE: {
          const h = hexValue(b);
          if (h >= 0) {
            if (++this.digits > MAX_CHUNK_DIGITS) return void this.fail('chunk size too large');
            this.remaining = this.remaining * 16 + h;
            i++;
          } else if (this.digits > 0 && (b === CR || b === 59 || isSpace(b))) {
            this.chunkState = SIZE_TAIL;
          } else return void this.fail(`bad chunk size ${shown(buf, i, end)}`);
          break;
        }
        case SIZE_TAIL:
          // Spaces and an extension (";name=value") are skipped up to the CR.
          if (b === CR) this.chunkState = SIZE_LF;
          else if (b === LF) return void this.fail('bad chunk size line (LF without CR)');
          i++;
          break;
        case SIZE_LF:
          if (b !== LF) return void this.fail('bad chunk size line (CR without LF)');
          i++;
          // The last chunk: its trailers are not needed, so the body is complete.
          if (this.remaining === 0) this.step = 'done';
          else this.chunkState = DATA;
          break;
        case DATA: {
          const take = Math.min(this.remaining, end - i);
          this.deliver(buf, i, i + take, sink);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.chunkState = DATA_CR;
          break;
        }
        case DATA_CR:
          if (b !== CR) return void this.fail('chunk longer than its size');
          this.chunkState = DATA_LF;
          i++;
          break;
        case DATA_LF:
          if (b !== LF) return void this.fail('chunk longer than its size');
          this.chunkState = SIZE;
          this.digits = 0;
          i++;
          break;
      }
    }
  }
}
