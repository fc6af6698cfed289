// `failoverd genhash URL`: the digest an http/https check's `digest` key wants,
// printed as keepalived's genhash prints it (the MD5 of the body, lowercase hex, one
// line), so a keepalived `digest` and a failoverd one are the same string.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { httpsOptions } from '../../checks/lib/http-probe.js';
import { parseDuration } from '../config/duration.js';
import { parseCommandLine, UsageError, type Command, type CommandOptions } from './command.js';

const USAGE = `Usage: failoverd genhash [options] URL

Fetches URL (http:// or https://) once, as an http/https check does, and prints the
MD5 of the body in hex: the value for the check's "digest" key (keepalived's
genhash prints the same). The status and body length go to stderr.

Options:
  --host NAME             the Host header (default: from the URL)
  --tls-server-name NAME  https: SNI and the name the certificate must carry
  --ca-file FILE          https: PEM file of CAs to trust
  --insecure              https: do not verify the certificate
  --bind-to ADDRESS       source address
  --sha256                print the SHA-256 instead (also accepted by "digest")
  --max-body-bytes N      refuse a longer body, as the check would (default 65536)
  --timeout DURATION      give up after this long (default 5s)
  -h, --help              this help`;

const OPTIONS = {
  host: { type: 'string' },
  'tls-server-name': { type: 'string' },
  'ca-file': { type: 'string' },
  insecure: { type: 'boolean', default: false },
  'bind-to': { type: 'string' },
  sha256: { type: 'boolean', default: false },
  'max-body-bytes': { type: 'string' },
  timeout: { type: 'string', default: '5s' },
} as const satisfies CommandOptions;

export const command: Command = {
  name: 'genhash',
  summary: "print the MD5 of a URL's body, for an http check's digest (keepalived genhash)",
  options: OPTIONS,
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, true);
    const usageError = (text: string): never => {
      throw new UsageError(text);
    };
    if (positionals.length !== 1)
      return usageError(positionals.length === 0 ? 'a URL is needed' : `unexpected argument "${positionals[1]}"`);
    let url: URL;
    try {
      url = new URL(positionals[0]!);
    } catch {
      return usageError(`not a URL: "${positionals[0]}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return usageError('the URL must be http:// or https://');
    const timeoutMs = parseDuration(values.timeout);
    if (timeoutMs === undefined || timeoutMs <= 0) return usageError(`--timeout: expected a duration like 5s, got "${values.timeout}"`);
    // The check's own option schema, so the defaults and limits are the check's.
    const checkOptions = httpsOptions.safeParse({
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(values['bind-to'] !== undefined ? { bind_to: values['bind-to'] } : {}),
      ...(values['max-body-bytes'] !== undefined ? { max_body_bytes: Number(values['max-body-bytes']) } : {}),
    });
    if (!checkOptions.success) {
      return usageError(checkOptions.error.issues.map((i) => `--${String(i.path[0]).replace(/_/g, '-')}: ${i.message}`).join('; '));
    }
    const o = checkOptions.data;
    const connect: Record<string, unknown> = { rejectUnauthorized: !values.insecure };
    if (values['ca-file']) connect.ca = readFileSync(values['ca-file']);
    if (values['tls-server-name']) connect.servername = values['tls-server-name'];
    const dispatcher = new Agent({ connect, ...(o.bind_to ? { localAddress: o.bind_to } : {}) });
    const hash = createHash(values.sha256 ? 'sha256' : 'md5');
    try {
      const response = await request(url, {
        dispatcher,
        method: 'GET',
        headers: { 'user-agent': 'failoverd-check', ...(o.host ? { host: o.host } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
      });
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > o.max_body_bytes) {
          process.stderr.write(
            `failoverd genhash: the body is longer than ${o.max_body_bytes} bytes; a check with this digest would fail unless its max_body_bytes is raised (--max-body-bytes)\n`,
          );
          return 1;
        }
        hash.update(chunk);
      }
      process.stderr.write(`status ${response.statusCode}, ${size} body bytes\n`);
      process.stdout.write(`${hash.digest('hex')}\n`);
      return 0;
    } catch (err) {
      const e = err as Error & { code?: string; cause?: Error & { code?: string } };
      const detail = e.cause?.code ?? e.code ?? e.cause?.message ?? e.message;
      process.stderr.write(`failoverd genhash: ${url.href}: ${e.name === 'TimeoutError' ? `no answer in ${values.timeout}` : detail}\n`);
      return 1;
    } finally {
      await dispatcher.close().catch(() => {});
    }
  },
};
