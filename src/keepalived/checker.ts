// keepalived's checkers (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, SMTP_CHECK, UDP_CHECK,
// DNS_CHECK, PING_CHECK) → failoverd checks, with keepalived's timing defaults written
// out. The timing keys a virtual_server or real_server sets are the defaults of the
// checkers under it. A setting whose keepalived behaviour the check cannot have is refused.
import { isIP } from 'node:net';
import { QUERY_TYPES } from '../../checks/lib/dns-message.js';
import { hexOf, keepalivedDefaultPayload, readHexStr, udpReplyPattern } from './hex.js';
import { notCarried, statement, unknownKeyword, warning, type Converted, type Finding } from './findings.js';
import type { KaNode } from './parse.js';
import { bool, duration, int, literal, seconds } from './values.js';
import type { WrittenCheck } from './written.js';

const CHECK_TYPES: Record<string, string> = {
  TCP_CHECK: 'tcp',
  HTTP_GET: 'http',
  SSL_GET: 'https',
  MISC_CHECK: 'exec',
  SMTP_CHECK: 'smtp',
  UDP_CHECK: 'udp',
  DNS_CHECK: 'dns',
  PING_CHECK: 'ping',
};

/** The checker keywords the importer converts (BFD_CHECK and FILE_CHECK have no failoverd check). */
export const CHECKERS: ReadonlySet<string> = new Set(Object.keys(CHECK_TYPES));

/** keepalived's defaults (check/check_*.c): retry, and delay_before_retry (undefined: delay_loop). */
const RETRY_DEFAULTS: Record<string, { retry: number; delayBeforeRetry: number | undefined }> = {
  exec: { retry: 0, delayBeforeRetry: 1000 },
  http: { retry: 1, delayBeforeRetry: 3000 },
  https: { retry: 1, delayBeforeRetry: 3000 },
  dns: { retry: 3, delayBeforeRetry: undefined },
};
const KEEPALIVED_HELO = 'smtpchecker.keepalived.org';
/** check_ping.c's echo payload (ICMP_BUFSIZE). */
const PING_PAYLOAD_BYTES = 128;
/** check_udp.c: min_reply_length 0, max_reply_length 255 unless set. */
const UDP_REPLY_LENGTH = { min: 0, max: 255 };
/** failoverd's http max_body_bytes at most: keepalived hashes the whole body, however long. */
const DIGEST_BODY_BYTES = 16 << 20;

/** The checkers' timing keys a virtual_server, real_server or checker sets (ms). */
export interface CheckDefaults {
  interval?: number | undefined;
  timeout?: number | undefined;
  retry?: number | undefined;
  delayBeforeRetry?: number | undefined;
  warmup?: number | undefined;
  alpha?: boolean | undefined;
  virtualhost?: string | undefined;
}

/** Reads `c` into `d` if it is a timing key; says whether it was. */
export function checkDefaultsFrom(c: KaNode, d: CheckDefaults): boolean {
  switch (c.keyword) {
    case 'delay_loop':
      d.interval = seconds(c.args[0]);
      return true;
    case 'connect_timeout':
      d.timeout = seconds(c.args[0]);
      return true;
    case 'retry':
    case 'nb_get_retry':
      d.retry = int(c.args[0]);
      return true;
    case 'delay_before_retry':
      d.delayBeforeRetry = seconds(c.args[0]);
      return true;
    case 'warmup':
      d.warmup = seconds(c.args[0]);
      return true;
    case 'alpha':
      d.alpha = bool(c.args[0]);
      return true;
    case 'virtualhost':
      d.virtualhost = c.args[0];
      return true;
    default:
      return false;
  }
}

/** The connection options every checker but MISC_CHECK has; says whether `c` was one. */
function connectionOption(c: KaNode, type: string, address: string | undefined, options: WrittenCheck, findings: Finding[]): boolean {
  const a = c.args;
  switch (c.keyword) {
    case 'connect_ip':
      // A checker may probe another address than the real server's; failoverd's checks probe the real server.
      if (address === undefined || a[0] === undefined || isIP(a[0]) === 0 || !sameAddress(a[0], address)) {
        findings.push(notCarried(c, "failoverd checks the real server's own address; keepalived would check this one"));
      }
      return true;
    case 'connect_port':
      if (type === 'ping') findings.push(warning(c, `${statement(c)}: an ICMP echo has no port, so keepalived ignores it too`));
      else options['connect_port'] = int(a[0]);
      return true;
    case 'bindto':
      options['bind_to'] = a[0];
      return true;
    case 'bind_if':
    case 'bind_port':
    case 'fwmark':
      findings.push(notCarried(c, `failoverd's checks have no ${c.keyword}: the probe would leave differently`));
      return true;
    case 'log_all_failures':
      findings.push(warning(c, `${statement(c)}: keepalived's logging only; failoverd logs each state change`));
      return true;
    default:
      return false;
  }
}

const sameAddress = (x: string, y: string): boolean => x.toLowerCase() === y.toLowerCase();

/**
 * One checker block → its checks: an HTTP_GET with several url blocks is one check per
 * url, an SMTP_CHECK with several (deprecated) host blocks one check per host.
 * `address` is the real server's, which a connect_ip may only repeat.
 */
export function convertChecker(node: KaNode, inherited: CheckDefaults, address?: string): Converted<WrittenCheck[]> {
  const findings: Finding[] = [];
  const d: CheckDefaults = { ...inherited };
  const type = CHECK_TYPES[node.keyword] ?? 'exec';
  const options: WrittenCheck = {};
  const urls: KaNode[] = [];
  const hosts: KaNode[] = [];
  const udp: { payload?: KaNode; reply?: KaNode; min?: KaNode; max?: KaNode } = {};
  let miscTimeout: number | undefined;
  const http = type === 'http' || type === 'https';
  const only = (c: KaNode, checkType: string, then: () => void) => {
    if (type === checkType) then();
    else findings.push(unknownKeyword(c, node.keyword));
  };
  for (const c of node.children ?? []) {
    if (checkDefaultsFrom(c, d)) continue;
    if (type !== 'exec' && connectionOption(c, type, address, options, findings)) continue;
    switch (c.keyword) {
      case 'url':
        if (http) urls.push(c);
        else findings.push(unknownKeyword(c, node.keyword));
        break;
      case 'misc_path':
        // keepalived splits misc_path into words and runs it without a shell: so does an argv command.
        only(c, 'exec', () => (options['command'] = c.args.join(' ').split(/\s+/).filter(Boolean).map(literal)));
        break;
      case 'misc_timeout':
        only(c, 'exec', () => (miscTimeout = seconds(c.args[0])));
        break;
      case 'misc_dynamic':
        only(c, 'exec', () => (options['misc_dynamic'] = true));
        break;
      case 'helo_name':
        only(c, 'smtp', () => {
          const name = c.args.join(' ');
          if (/^\S+$/.test(name)) options['helo_name'] = name;
          else findings.push(notCarried(c, 'failoverd sends a HELO name of one word'));
        });
        break;
      case 'host':
        only(c, 'smtp', () => hosts.push(c));
        break;
      case 'payload':
        only(c, 'udp', () => (udp.payload = c));
        break;
      case 'require_reply':
        only(c, 'udp', () => (udp.reply = c));
        break;
      case 'min_reply_length':
        only(c, 'udp', () => (udp.min = c));
        break;
      case 'max_reply_length':
        only(c, 'udp', () => (udp.max = c));
        break;
      case 'type':
        only(c, 'dns', () => {
          const queryType = (c.args[0] ?? '').toUpperCase();
          if ((QUERY_TYPES as readonly string[]).includes(queryType)) options['query_type'] = queryType;
          else findings.push(notCarried(c, `failoverd's dns check asks for ${QUERY_TYPES.join(', ')}`));
        });
        break;
      case 'name':
        only(c, 'dns', () => (options['name'] = c.args[0]));
        break;
      default:
        findings.push(unknownKeyword(c, node.keyword));
    }
  }
  const retryDefaults = RETRY_DEFAULTS[type] ?? { retry: 1, delayBeforeRetry: 1000 };
  const interval = d.interval ?? 60_000;
  const common: WrittenCheck = {
    type,
    interval: duration(interval),
    timeout: duration(type === 'exec' ? (miscTimeout ?? interval) : (d.timeout ?? 5000)),
    // keepalived marks a server down when a check and its retries fail, up on one success.
    rise: 1,
    fall: 1,
    retry: d.retry ?? retryDefaults.retry,
    delay_before_retry: duration(d.delayBeforeRetry ?? retryDefaults.delayBeforeRetry ?? interval),
    ...(d.warmup !== undefined ? { warmup: duration(d.warmup) } : {}),
    initial: d.alpha ? 'down' : 'up',
  };
  switch (type) {
    case 'exec':
      if (!options['command']) return { findings: [...findings, notCarried(node, 'MISC_CHECK without misc_path')] };
      return { value: [{ ...common, ...options }], findings };
    case 'smtp':
      return smtpChecks(common, options, hosts, address, findings);
    case 'udp': {
      const udpOptions = udpOptionsOf(node, udp, findings);
      return udpOptions ? { value: [{ ...common, ...options, ...udpOptions }], findings } : { findings };
    }
    case 'dns':
      // keepalived asks for the SOA of the root unless told otherwise; up on any NOERROR reply.
      return { value: [{ ...common, name: '.', query_type: 'SOA', ...options }], findings };
    case 'ping':
      return { value: [{ ...common, ...options, payload_bytes: PING_PAYLOAD_BYTES }], findings };
    case 'tcp':
      return { value: [{ ...common, ...options }], findings };
    default:
      return httpChecks(node, type, common, options, urls, d, findings);
  }
}

function smtpChecks(
  common: WrittenCheck,
  options: WrittenCheck,
  hosts: KaNode[],
  address: string | undefined,
  findings: Finding[],
): Converted<WrittenCheck[]> {
  options['helo_name'] ??= KEEPALIVED_HELO;
  // keepalived's SMTP_CHECK says HELO, never EHLO.
  options['greeting'] = 'helo';
  if (hosts.length === 0) return { value: [{ ...common, ...options }], findings };
  // keepalived runs each (deprecated) host block as a checker of its own: all must pass.
  const checks = hosts.map((host) => {
    const own: WrittenCheck = { ...options };
    for (const c of host.children ?? []) {
      if (!connectionOption(c, 'smtp', address, own, findings)) findings.push(unknownKeyword(c, 'SMTP_CHECK host'));
    }
    return { ...common, ...own };
  });
  return { value: checks, findings };
}

/** UDP_CHECK's payload and reply check, or undefined when the udp check cannot behave as keepalived's. */
function udpOptionsOf(
  node: KaNode,
  udp: { payload?: KaNode; reply?: KaNode; min?: KaNode; max?: KaNode },
  findings: Finding[],
): WrittenCheck | undefined {
  const out: WrittenCheck = {};
  if (udp.payload) {
    const octets = readHexStr(udp.payload.args.join(' '), false);
    if (!octets) {
      findings.push(notCarried(udp.payload, 'not a hex string keepalived reads'));
      return undefined;
    }
    out['send_hex'] = hexOf(octets);
  } else out['send_hex'] = keepalivedDefaultPayload();
  if (!udp.reply) {
    findings.push(
      notCarried(
        node,
        'without require_reply keepalived counts a probe that gets no reply (and no ICMP error) as up; ' +
          "failoverd's udp check counts it as down (add require_reply where the server answers)",
      ),
    );
    return undefined;
  }
  const lengths: Array<KaNode | undefined> = [udp.min, udp.max];
  if (udp.reply.args.length === 0) {
    // Any reply is up: keepalived reads no length limits without a HEX_STR either.
    for (const l of lengths)
      if (l) findings.push(warning(l, `${statement(l)}: no effect without a require_reply HEX_STR, as in keepalived`));
    return out;
  }
  const octets = readHexStr(udp.reply.args.join(' '), true);
  if (!octets) {
    findings.push(notCarried(udp.reply, 'not a hex string keepalived reads'));
    return undefined;
  }
  const min = udp.min ? int(udp.min.args[0]) : UDP_REPLY_LENGTH.min;
  const max = udp.max ? int(udp.max.args[0]) : UDP_REPLY_LENGTH.max;
  if (min === undefined || max === undefined || min < 0 || max > 65535 || min > max) {
    findings.push(notCarried(udp.min ?? udp.max ?? udp.reply, 'reply lengths must count 0 ≤ min ≤ max ≤ 65535'));
    return undefined;
  }
  // keepalived: the reply's length within [min, max] and its first bytes as the HEX_STR (X: any nibble).
  out['expect'] = udpReplyPattern(octets, min, max);
  return out;
}

function httpChecks(
  node: KaNode,
  type: string,
  common: WrittenCheck,
  options: WrittenCheck,
  urls: KaNode[],
  d: CheckDefaults,
  findings: Finding[],
): Converted<WrittenCheck[]> {
  if (type === 'https') {
    options['tls_verify'] = false;
    findings.push(warning(node, 'SSL_GET: keepalived does not verify the server certificate, so tls_verify is false'));
  }
  if (urls.length === 0) {
    findings.push(warning(node, `${node.keyword} without url: checking path / for a 2xx status`));
    const host = d.virtualhost ? { host: d.virtualhost } : {};
    return { value: [{ ...common, path: '/', ...host, ...options }], findings };
  }
  const checks = urls.map((u) => {
    const check: WrittenCheck = { ...common };
    let host = d.virtualhost;
    for (const x of u.children ?? []) {
      switch (x.keyword) {
        case 'path':
          check['path'] = x.args[0];
          break;
        case 'status_code':
          check['expect_status'] = x.args.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
          break;
        case 'virtualhost':
          host = x.args[0];
          break;
        case 'regex':
          check['expect_body'] = literal(x.args[0] ?? '');
          break;
        case 'digest':
          // keepalived's MD5 of the whole body (genhash); failoverd reads the body up to max_body_bytes.
          if (/^[0-9a-fA-F]{32}$/.test(x.args[0] ?? '')) {
            check['digest'] = x.args[0]!.toLowerCase();
            check['max_body_bytes'] = DIGEST_BODY_BYTES;
          } else findings.push(notCarried(x, 'keepalived takes 32 hex digits (an MD5 digest)'));
          break;
        default:
          findings.push(unknownKeyword(x, 'url'));
      }
    }
    if (host) check['host'] = host;
    return { ...check, ...options };
  });
  return { value: checks, findings };
}
