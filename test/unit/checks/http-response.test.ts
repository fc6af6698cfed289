// The http/https checks' response reader (checks/lib/http-response.ts) and request
// bytes: bytes split anywhere, chunked bodies, 1xx, and every way a response can be
// unreadable, each with the reason a check reports.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestBytes } from '../../../checks/lib/http-fresh.js';
import { httpOptions, httpsOptions } from '../../../checks/lib/http-probe.js';
import { MAX_HEAD_BYTES, ResponseReader, type ReadStep } from '../../../checks/lib/http-response.js';

interface Read {
  step: ReadStep;
  status: number;
  body: string;
  error: string;
}

/** Feeds `pieces` in order (each from a buffer with stale bytes after it, as a reused read buffer has), then the close if `close`. */
function read(pieces: readonly string[], close = false, headRequest = false): Read {
  const reader = new ResponseReader(headRequest);
  const parts: Buffer[] = [];
  const sink = { body: (chunk: Buffer, start: number, end: number) => parts.push(Buffer.from(chunk.subarray(start, end))) };
  let step: ReadStep = 'head';
  for (const piece of pieces) {
    const bytes = Buffer.from(piece, 'latin1');
    // A reused buffer: the bytes, then what an earlier read left (a whole head's end among it).
    const buf = Buffer.concat([Buffer.from('xx', 'latin1'), bytes, Buffer.from('\r\n\r\nHTTP/1.1 500 stale\r\n\r\n', 'latin1')]);
    step = reader.feed(buf, 2, 2 + bytes.length, sink);
    if (step === 'error' || step === 'done') break;
  }
  if (close && step !== 'error' && step !== 'done') step = reader.end();
  return { step, status: reader.status, body: Buffer.concat(parts).toString('latin1'), error: reader.error };
}

/** Every way of cutting `text` in two, and byte by byte. */
function splits(text: string): string[][] {
  const out: string[][] = [[...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

describe('http response reader', () => {
  it('reads a status and a Content-Length body, however the bytes are split', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-LENGTH: 11\r\n\r\nhello world';
    for (const pieces of splits(text)) {
      assert.deepEqual(read(pieces), { step: 'done', status: 200, body: 'hello world', error: '' }, JSON.stringify(pieces));
    }
  });

  it('the status line may lack a reason; HTTP/1.0 is read too', () => {
    assert.equal(read(['HTTP/1.1 204\r\n\r\n']).status, 204);
    assert.deepEqual(read(['HTTP/1.0 503 Busy\r\n\r\nbusy'], true), { step: 'done', status: 503, body: 'busy', error: '' });
  });

  it('undoes chunked transfer coding (extensions, trailers), however the bytes are split', () => {
    const text =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\n1A \r\n, chunked and split across\r\n0\r\nx-trailer: 1\r\n\r\n';
    for (const pieces of splits(text)) {
      assert.deepEqual(
        read(pieces),
        { step: 'done', status: 200, body: 'hello, chunked and split across', error: '' },
        JSON.stringify(pieces),
      );
    }
  });

  it('a body with neither length nor chunking runs until the close', () => {
    assert.deepEqual(read(['HTTP/1.1 200 OK\r\n\r\nsome', ' more'], false), { step: 'body', status: 200, body: 'some more', error: '' });
    assert.deepEqual(read(['HTTP/1.1 200 OK\r\n\r\nsome', ' more'], true), { step: 'done', status: 200, body: 'some more', error: '' });
    // A coding other than chunked last: the same.
    assert.equal(read(['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nabc'], true).body, 'abc');
  });

  it('no body for HEAD, 204 and 304, whatever the headers say', () => {
    assert.deepEqual(read(['HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n'], false, true), {
      step: 'done',
      status: 200,
      body: '',
      error: '',
    });
    assert.equal(read(['HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n']).step, 'done');
  });

  it('skips interim 1xx responses and judges the final one; 101 is final', () => {
    const text =
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno';
    for (const pieces of splits(text)) assert.deepEqual(read(pieces), { step: 'done', status: 404, body: 'no', error: '' });
    assert.equal(read(['HTTP/1.1 101 Switching Protocols\r\n\r\n']).status, 101);
  });

  it('a bad status line is an error with the line in it, and what is not HTTP fails on its first bytes', () => {
    assert.deepEqual(read(['HTTP/1.1 2x0 OK\r\n\r\n']), { step: 'error', status: 0, body: '', error: 'bad status line "HTTP/1.1 2x0 OK"' });
    assert.equal(read(['HTTP/1.1 200OK\r\n\r\n']).error, 'bad status line "HTTP/1.1 200OK"');
    assert.equal(read(['HTTP/2 200\r\n\r\n']).error, 'not an HTTP/1.x response: "HTTP/2 200\\r\\n\\r\\n"');
    // An SSH server's banner: refused at once, without waiting for a head's end or the timeout.
    assert.deepEqual(read(['SSH-2.0-OpenSSH_9.2']), {
      step: 'error',
      status: 0,
      body: '',
      error: 'not an HTTP/1.x response: "SSH-2.0-OpenSSH_9.2"',
    });
  });

  it('bad header lines and framing are errors', () => {
    assert.match(read(['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n']).error, /^bad header line "no colon here"$/);
    assert.match(read(['HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n']).error, /^bad Content-Length "12a"$/);
    assert.equal(read(['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n']).error, 'two different Content-Length headers');
    assert.equal(read(['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc']).body, 'abc');
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    assert.match(read([`${chunked}zz\r\n`]).error, /^bad chunk size "zz/);
    assert.equal(read([`${chunked}3\r\nabcd\r\n`]).error, 'chunk longer than its size');
    assert.equal(read([`${chunked}123456789\r\n`]).error, 'chunk size too large');
  });

  it('headers longer than the limit are an error, whether they come at once or bit by bit', () => {
    const long = `HTTP/1.1 200 OK\r\nx-filler: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
    assert.equal(read([long]).error, `response headers longer than ${MAX_HEAD_BYTES} bytes`);
    const pieces = long.match(/[^]{1,1000}/g)!;
    assert.deepEqual(read(pieces), { step: 'error', status: 0, body: '', error: `response headers longer than ${MAX_HEAD_BYTES} bytes` });
    // Just under the limit is fine.
    const fits = `HTTP/1.1 200 OK\r\nx-filler: ${'a'.repeat(MAX_HEAD_BYTES - 40)}\r\n\r\n`;
    assert.equal(read(fits.match(/[^]{1,1000}/g)!).status, 200);
  });

  it('an early close says how far the response got', () => {
    assert.equal(read([], true).error, 'closed by the server before any response');
    assert.equal(read(['HTTP/1.1 200 OK\r\nContent-'], true).error, 'closed by the server in the response headers');
    assert.deepEqual(read(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], true), {
      step: 'error',
      status: 200,
      body: 'abc',
      error: 'closed by the server after 3 of 10 body bytes',
    });
    assert.equal(
      read(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'], true).error,
      'closed by the server in the chunked body after 2 bytes',
    );
  });

  it('bytes after the response are not part of it', () => {
    assert.deepEqual(read(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA']), { step: 'done', status: 200, body: 'ok', error: '' });
  });
});

describe('http request bytes', () => {
  const text = (options: Record<string, unknown>, address = '10.0.0.1', port = 8080, secure = false): string =>
    requestBytes((secure ? httpsOptions : httpOptions).parse(options), address, port, secure).toString('latin1');

  it('is the request undici sent: Host as address:port (port left out when it is the default), connection: close', () => {
    assert.equal(
      text({ path: '/healthz' }),
      'GET /healthz HTTP/1.1\r\nhost: 10.0.0.1:8080\r\nconnection: close\r\nuser-agent: failoverd-check\r\n\r\n',
    );
    assert.match(text({}, '10.0.0.1', 80), /^GET \/ HTTP\/1\.1\r\nhost: 10\.0\.0\.1\r\n/);
    assert.match(text({}, 'fd00::1', 443, true), /\r\nhost: \[fd00::1\]\r\n/);
    assert.match(text({}, 'fd00::1', 8443, true), /\r\nhost: \[fd00::1\]:8443\r\n/);
  });

  it('method, host, extra headers; a given User-Agent replaces ours; content-length: 0 where a body is expected', () => {
    const t = text({ method: 'POST', host: 'www.example.test', headers: { 'User-Agent': 'lb', 'x-probe': 'yes' } });
    assert.equal(
      t,
      'POST / HTTP/1.1\r\nhost: www.example.test\r\nconnection: close\r\ncontent-length: 0\r\nUser-Agent: lb\r\nx-probe: yes\r\n\r\n',
    );
  });

  it('a path that would split the request line is refused by the schema', () => {
    assert.equal(httpOptions.safeParse({ path: '/a b' }).success, false);
    assert.equal(httpOptions.safeParse({ path: '/a\r\nx: y' }).success, false);
    assert.equal(httpOptions.safeParse({ path: '/a%20b?q=1' }).success, true);
  });
});
