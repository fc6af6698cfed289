// TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK → failoverd checks, with keepalived's timing
// defaults written out. The timing keys a virtual_server or real_server sets are the
// defaults of the checkers under it.
import { notCarried, unknownKeyword, warning, type Converted, type Finding } from './findings.js';
import type { KaNode } from './parse.js';
import { bool, duration, int, literal, seconds } from './values.js';
import type { WrittenCheck } from './written.js';

const CHECK_TYPES: Record<string, string> = {
  TCP_CHECK: 'tcp',
  HTTP_GET: 'http',
  SSL_GET: 'https',
  MISC_CHECK: 'exec',
};

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

/** One checker block → its checks (an HTTP_GET with several url blocks is one check per url). */
export function convertChecker(node: KaNode, inherited: CheckDefaults): Converted<WrittenCheck[]> {
  const findings: Finding[] = [];
  const d: CheckDefaults = { ...inherited };
  const options: WrittenCheck = {};
  const urls: KaNode[] = [];
  let miscTimeout: number | undefined;
  const http = node.keyword === 'HTTP_GET' || node.keyword === 'SSL_GET';
  for (const c of node.children ?? []) {
    if (checkDefaultsFrom(c, d)) continue;
    switch (c.keyword) {
      case 'connect_port':
        options['connect_port'] = int(c.args[0]);
        break;
      case 'bindto':
        options['bind_to'] = c.args[0];
        break;
      case 'url':
        if (http) urls.push(c);
        else findings.push(unknownKeyword(c, node.keyword));
        break;
      case 'misc_path':
        // keepalived splits misc_path into words and runs it without a shell: so does an argv command.
        if (node.keyword === 'MISC_CHECK') {
          options['command'] = c.args.join(' ').split(/\s+/).filter(Boolean).map(literal);
        } else findings.push(unknownKeyword(c, node.keyword));
        break;
      case 'misc_timeout':
        miscTimeout = seconds(c.args[0]);
        break;
      case 'misc_dynamic':
        options['misc_dynamic'] = true;
        break;
      default:
        findings.push(unknownKeyword(c, node.keyword));
    }
  }
  const type = CHECK_TYPES[node.keyword] ?? 'exec';
  const interval = d.interval ?? 60_000;
  const common: WrittenCheck = {
    type,
    interval: duration(interval),
    timeout: duration(type === 'exec' ? (miscTimeout ?? interval) : (d.timeout ?? 5000)),
    // keepalived marks a server down when a check and its retries fail, up on one success.
    rise: 1,
    fall: 1,
    retry: d.retry ?? (type === 'exec' ? 0 : 1),
    delay_before_retry: duration(d.delayBeforeRetry ?? (http ? 3000 : 1000)),
    ...(d.warmup !== undefined ? { warmup: duration(d.warmup) } : {}),
    initial: d.alpha ? 'down' : 'up',
  };
  if (type === 'exec') {
    if (!options['command']) return { findings: [...findings, notCarried(node, 'MISC_CHECK without misc_path')] };
    return { value: [{ ...common, ...options }], findings };
  }
  if (!http) return { value: [{ ...common, ...options }], findings };
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
          findings.push(
            notCarried(
              x,
              'keepalived compares an MD5 digest of the body; failoverd has no MD5 check, so a ' +
                'changed body would no longer fail the check',
            ),
          );
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
