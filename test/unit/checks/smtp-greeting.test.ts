// The smtp check's greeting against a loopback SMTP server that records what it is told:
// ehlo (the default) says EHLO, helo says HELO only (keepalived's SMTP_CHECK dialogue),
// and the option is validated by the check's own schema.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { plugin } from '../../../checks/smtp.js';

interface Fake {
  port: number;
  commands: string[];
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** An SMTP server on 127.0.0.1: 220 banner, then `reply(verb)` to each command; QUIT gets 221 and the end. */
async function fakeSmtp(reply: (verb: string) => string): Promise<Fake> {
  const commands: string[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.write('220 fake.failoverd.test ESMTP\r\n');
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        commands.push(line);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write(`${reply(verb)}\r\n`);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { port: (server.address() as AddressInfo).port, commands };
}

const run = (port: number, options: Record<string, unknown>) =>
  plugin.run(
    { service: 'svc', address: '127.0.0.1', port },
    plugin.options.parse({ helo_name: 'lb1.failoverd.test', ...options }),
    new AbortController().signal,
  );

describe('smtp check: greeting', () => {
  it('ehlo (the default) says EHLO', async () => {
    const fake = await fakeSmtp(() => '250 fake.failoverd.test');
    const r = await run(fake.port, {});
    assert.deepEqual([r.ok, r.reason], [true, `220 banner, EHLO 250, QUIT 221 on port ${fake.port}`]);
    assert.deepEqual(fake.commands, ['EHLO lb1.failoverd.test', 'QUIT']);
  });

  it('helo says HELO and never EHLO, as keepalived', async () => {
    const fake = await fakeSmtp(() => '250 fake.failoverd.test');
    const r = await run(fake.port, { greeting: 'helo' });
    assert.deepEqual([r.ok, r.reason], [true, `220 banner, HELO 250, QUIT 221 on port ${fake.port}`]);
    assert.deepEqual(fake.commands, ['HELO lb1.failoverd.test', 'QUIT']);
  });

  it('helo refused with a 5xx is down, with no EHLO tried; ehlo refused falls back to HELO', async () => {
    const noHelo = await fakeSmtp((verb) => (verb === 'HELO' ? '502 no HELO here' : '250 ok'));
    const r = await run(noHelo.port, { greeting: 'helo' });
    assert.deepEqual([r.ok, r.reason], [false, 'HELO: 502 "no HELO here", expected 250']);
    assert.deepEqual(noHelo.commands, ['HELO lb1.failoverd.test'], 'no EHLO after the refusal (and no QUIT after a failure)');
    const noEhlo = await fakeSmtp((verb) => (verb === 'EHLO' ? '502 no EHLO here' : '250 ok'));
    const fallback = await run(noEhlo.port, {});
    assert.equal(fallback.ok, true, fallback.reason);
    assert.deepEqual(noEhlo.commands, ['EHLO lb1.failoverd.test', 'HELO lb1.failoverd.test', 'QUIT']);
  });

  it('is validated by the check: ehlo or helo, and STARTTLS needs ehlo', () => {
    assert.equal(plugin.options.parse({}).greeting, 'ehlo');
    const upper = plugin.options.safeParse({ greeting: 'HELO' });
    assert.equal(upper.success, false);
    const tls = plugin.options.safeParse({ greeting: 'helo', starttls: true });
    assert.equal(tls.success, false);
    assert.deepEqual(
      tls.error?.issues.map((i) => [i.path.join('.'), i.message]),
      [['greeting', 'STARTTLS is an ESMTP extension: it needs greeting: ehlo (the default)']],
    );
  });
});
