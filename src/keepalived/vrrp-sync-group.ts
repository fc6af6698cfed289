// vrrp_sync_group → the sync_group its member instances get (read in the first pass).
import { notCarried, unknownKeyword, type Converted, type Finding } from './findings.js';
import { NOTIFY_WHY } from './notify.js';
import type { KaNode } from './parse.js';
import { bool, safeName } from './values.js';

export interface SyncGroup {
  /** The failoverd name (sync_group:). */
  name: string;
  /** keepalived's names of the member instances. */
  members: string[];
}

export function convertSyncGroup(node: KaNode): Converted<SyncGroup> {
  const findings: Finding[] = [];
  const members: string[] = [];
  for (const c of node.children ?? []) {
    if (c.keyword === 'group') members.push(...(c.children ?? []).map((m) => m.keyword));
    else if (c.keyword === 'notify' || c.keyword.startsWith('notify_')) findings.push(notCarried(c, NOTIFY_WHY));
    else if (c.keyword === 'smtp_alert') {
      if (bool(c.args[0])) findings.push(notCarried(c, 'failoverd sends no email'));
    }
    else findings.push(unknownKeyword(c, 'vrrp_sync_group'));
  }
  return { value: { name: safeName(node.args[0] ?? 'group'), members }, findings };
}
