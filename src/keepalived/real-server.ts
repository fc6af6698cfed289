// real_server → a failoverd real server and its checks. What the service sets (the
// checkers' timing, forwarding, inhibit_on_failure) is the default; the service
// converter decides whether the checks are written once on the service or per server.
import { checkDefaultsFrom, CHECKERS, convertChecker, type CheckDefaults } from './checker.js';
import { forwardingOf } from './forwarding.js';
import { notCarried, unknownKeyword, type Finding } from './findings.js';
import { commandOf } from './notify.js';
import type { KaNode } from './parse.js';
import { bool, int } from './values.js';
import type { WrittenCheck, WrittenRealServer } from './written.js';

const MISSING_CHECKS = new Set(['BFD_CHECK', 'FILE_CHECK']);

/** What a virtual_server hands its real servers. */
export interface ServiceScope {
  checkDefaults: CheckDefaults;
  forwarding: string;
  inhibit: boolean;
  /** keepalived would mail this service's real servers' UP/DOWN unless one says smtp_alert off (check_data.c: a real server's default is on). */
  mailsByDefault: boolean;
}

export interface ConvertedRealServer {
  out: WrittenRealServer;
  checks: WrittenCheck[];
  /** inhibit_on_failure, its own or the service's. */
  inhibit: boolean;
  findings: Finding[];
}

export function convertRealServer(node: KaNode, scope: ServiceScope): ConvertedRealServer {
  const findings: Finding[] = [];
  const out: WrittenRealServer = { address: node.args[0] };
  if (node.args[1] !== undefined) out.port = int(node.args[1]);
  const defaults: CheckDefaults = { ...scope.checkDefaults };
  let inhibit = scope.inhibit;
  let smtpAlert: boolean | undefined;
  const checkers: KaNode[] = [];
  for (const c of node.children ?? []) {
    if (checkDefaultsFrom(c, defaults)) continue;
    switch (c.keyword) {
      case 'weight':
        out.weight = int(c.args[0]);
        break;
      case 'lvs_method':
      case 'lb_kind': {
        const f = forwardingOf(c);
        findings.push(...f.findings);
        if (f.value && f.value.forwarding !== scope.forwarding) out.forwarding = f.value.forwarding;
        if (f.value?.tunnel) out.tunnel = f.value.tunnel;
        break;
      }
      case 'uthreshold':
        out.upper_threshold = int(c.args[0]);
        break;
      case 'lthreshold':
        out.lower_threshold = int(c.args[0]);
        break;
      case 'inhibit_on_failure':
        inhibit = bool(c.args[0]);
        break;
      case 'smtp_alert':
        smtpAlert = c.args[0] === undefined || bool(c.args[0]);
        if (smtpAlert) findings.push(notCarried(c, 'failoverd sends no email'));
        break;
      case 'notify_up':
      case 'notify_down': {
        const command = commandOf(c);
        findings.push(...command.findings);
        if (command.value !== undefined) (out.notify ??= {})[c.keyword === 'notify_up' ? 'on_up' : 'on_down'] = command.value;
        break;
      }
      default:
        if (CHECKERS.has(c.keyword)) checkers.push(c);
        else if (MISSING_CHECKS.has(c.keyword)) {
          findings.push(notCarried(c, 'failoverd has no such check; without it the server would count as always up'));
        } else findings.push(unknownKeyword(c, 'real_server'));
    }
  }
  if (smtpAlert === undefined && scope.mailsByDefault) {
    findings.push(
      notCarried(
        node,
        "keepalived would mail this real server's UP and DOWN to notification_email through smtp_server (a real server's smtp_alert is on unless set); " +
          'failoverd sends no email (alerts.webhooks or alerts.programs can carry it; or say smtp_alert off)',
      ),
    );
  }
  if (out.weight === undefined) out.weight = 1;
  const checks: WrittenCheck[] = [];
  for (const c of checkers) {
    const converted = convertChecker(c, defaults, out.address);
    findings.push(...converted.findings);
    checks.push(...(converted.value ?? []));
  }
  return { out, checks, inhibit, findings };
}
