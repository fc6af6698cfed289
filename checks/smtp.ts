// SMTP check: the banner (220), EHLO (HELO when the server refuses EHLO with a
// 5xx) or HELO only (greeting: helo, keepalived's SMTP_CHECK dialogue), optionally
// STARTTLS with certificate checks and EHLO again, then QUIT.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import * as z from 'zod';
import type { CheckPlugin, CheckResult, CheckTarget } from '../src/health/check.js';
import { abortText, clip, elapsedSince, errorText } from '../src/health/check-helpers.js';
import { hasExtension, SmtpReplyReader, type SmtpReply } from './lib/smtp-reply.js';
import { tlsOptionsShape } from './lib/http-probe.js';

const validRegex = (s: string): boolean => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
};

const options = z
  .object({
    connect_port: z.number().int().min(1).max(65535).optional(),
    bind_to: z.union([z.ipv4(), z.ipv6()]).optional(),
    /** The name sent with EHLO/HELO (keepalived's helo_name); default: this host's name. */
    helo_name: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^\s]+$/, 'one word, like a host name')
      .optional(),
    /** ehlo: EHLO, then HELO if the server refuses it with a 5xx; helo: HELO only, as keepalived's SMTP_CHECK. */
    greeting: z.enum(['ehlo', 'helo']).default('ehlo'),
    /** A regular expression the banner text (after "220 ") must match. */
    expect_banner: z.string().refine(validRegex, 'not a valid regular expression').optional(),
    /** Upgrade with STARTTLS after EHLO; down when the server does not offer it. */
    starttls: z.boolean().default(false),
    /** STARTTLS only: SNI and certificate name (default: none sent, the name is not checked against one). */
    tls_server_name: tlsOptionsShape.tls_server_name,
    tls_verify: tlsOptionsShape.tls_verify,
    ca_file: tlsOptionsShape.ca_file,
  })
  .strict()
  .refine((o) => !(o.starttls && o.greeting === 'helo'), {
    message: 'STARTTLS is an ESMTP extension: it needs greeting: ehlo (the default)',
    path: ['greeting'],
  });

export type SmtpCheckOptions = z.infer<typeof options>;

class SmtpFailure extends Error {}

/** One dialogue over a socket that may be swapped for its TLS upgrade. */
class Dialogue {
  private reader = new SmtpReplyReader();
  private replies: SmtpReply[] = [];
  private waiter: (() => void) | undefined;
  failure: Error | undefined;
  phase = 'connect';

  constructor(public socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    this.reader = new SmtpReplyReader();
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      try {
        this.replies.push(...this.reader.feed(chunk));
      } catch (err) {
        this.failure = new SmtpFailure(`${this.phase}: ${(err as Error).message}`);
      }
      this.wake();
    });
    socket.on('end', () => {
      if (this.socket !== socket) return;
      this.failure ??= new SmtpFailure(`${this.phase}: connection closed by the server`);
      this.wake();
    });
    socket.on('error', (err) => {
      if (this.socket !== socket) return;
      this.failure ??= new SmtpFailure(`${this.phase}: ${errorText(err)}`);
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  async reply(): Promise<SmtpReply> {
    for (;;) {
      const r = this.replies.shift();
      if (r) return r;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  async command(phase: string, line: string): Promise<SmtpReply> {
    this.phase = phase;
    if (this.replies.length > 0) throw new SmtpFailure(`${phase}: the server spoke before the command (pipelining not offered)`);
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }
}

const said = (r: SmtpReply): string => `${r.code} ${JSON.stringify(clip(r.lines.join(' / '), 80))}`;

async function dialogue(d: Dialogue, target: CheckTarget, o: SmtpCheckOptions, helo: string, pattern: RegExp | undefined): Promise<string> {
  // The phase is "connect" until the socket connects (runSmtp), then "banner".
  const banner = await d.reply();
  if (banner.code !== 220) throw new SmtpFailure(`banner ${said(banner)}, expected 220`);
  if (pattern && !pattern.test(banner.lines.join('\n')))
    throw new SmtpFailure(`banner ${said(banner)} does not match /${o.expect_banner}/`);
  let verb = o.greeting === 'helo' ? 'HELO' : 'EHLO';
  let greeting = await d.command(verb, `${verb} ${helo}`);
  if (verb === 'EHLO' && greeting.code >= 500 && greeting.code < 600 && !o.starttls) {
    verb = 'HELO';
    greeting = await d.command('HELO', `HELO ${helo}`);
  }
  if (greeting.code !== 250) throw new SmtpFailure(`${verb}: ${said(greeting)}, expected 250`);
  let tlsText = '';
  if (o.starttls) {
    if (!hasExtension(greeting, 'STARTTLS')) throw new SmtpFailure('STARTTLS: not offered in the EHLO reply');
    const go = await d.command('STARTTLS', 'STARTTLS');
    if (go.code !== 220) throw new SmtpFailure(`STARTTLS: ${said(go)}, expected 220`);
    d.phase = 'TLS handshake';
    const plain = d.socket;
    const secure = tlsConnect({
      socket: plain,
      rejectUnauthorized: o.tls_verify,
      ...(o.tls_server_name ? { servername: o.tls_server_name } : {}),
      ...(o.ca_file ? { ca: readFileSync(o.ca_file) } : {}),
      // Without a name to check, verify the chain only (an IP address is not a name).
      ...(o.tls_server_name ? {} : { checkServerIdentity: () => undefined }),
    });
    d.attach(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', (err) => reject(d.failure ?? new SmtpFailure(`TLS handshake: ${errorText(err)}`)));
      secure.once('close', () => reject(d.failure ?? new SmtpFailure('TLS handshake: connection closed')));
    });
    tlsText = `, ${secure.getProtocol() ?? 'TLS'}`;
    const again = await d.command('EHLO after STARTTLS', `EHLO ${helo}`);
    if (again.code !== 250) throw new SmtpFailure(`EHLO after STARTTLS: ${said(again)}, expected 250`);
  }
  const quit = await d.command('QUIT', 'QUIT').catch(() => undefined);
  return `220 banner, ${verb} 250${tlsText}${quit ? `, QUIT ${quit.code}` : ''} on port ${o.connect_port ?? target.port}`;
}

const bannerPatterns = new WeakMap<object, RegExp>();

function runSmtp(target: CheckTarget, o: SmtpCheckOptions, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  if (signal.aborted) return Promise.resolve({ ok: false, reason: `connect: ${abortText(signal)}`, latencyMs: 0 });
  let pattern = bannerPatterns.get(o);
  if (!pattern && o.expect_banner !== undefined) {
    pattern = new RegExp(o.expect_banner);
    bannerPatterns.set(o, pattern);
  }
  const socket = connect({ host: target.address, port: o.connect_port ?? target.port, localAddress: o.bind_to, noDelay: true });
  const d = new Dialogue(socket);
  const onAbort = (): void => {
    d.fail(new SmtpFailure(`${d.phase}: ${abortText(signal)}`));
    d.socket.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  socket.once('connect', () => {
    if (d.phase === 'connect') d.phase = 'banner';
  });
  return dialogue(d, target, o, o.helo_name ?? (hostname() || 'failoverd'), pattern)
    .then(
      (reason) => ({ ok: true, reason }),
      (err: Error) => ({ ok: false, reason: err instanceof SmtpFailure ? err.message : `${d.phase}: ${errorText(err)}` }),
    )
    .then((r) => {
      signal.removeEventListener('abort', onAbort);
      d.socket.destroy();
      socket.destroy();
      return { ...r, latencyMs: elapsedSince(started) };
    });
}

export const plugin: CheckPlugin<SmtpCheckOptions> = {
  type: 'smtp',
  description: 'SMTP: banner 220 (expect_banner), EHLO (HELO on 5xx) or HELO (greeting), optional STARTTLS with tls_verify/ca_file, QUIT',
  options,
  run: runSmtp,
};
