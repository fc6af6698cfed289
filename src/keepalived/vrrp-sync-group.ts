// vrrp_sync_group → the sync_group its member instances get (read in the first pass).
import { notCarried, unknownKeyword, type Converted, type Finding } from './findings.js';
import type { KaNode } from './parse.js';
import { bool, safeName } from './values.js';
import { vrrpNotifyEntry } from './vrrp-instance.js';
import type { WrittenVrrpNotify } from './written.js';

export interface SyncGroup {
  /** The failoverd name (sync_group:). */
  name: string;
  /** keepalived's names of the member instances. */
  members: string[];
  /** notify_master/backup/fault/stop and notify, as vrrp_sync_groups[].notify. */
  notify?: WrittenVrrpNotify;
}

export function convertSyncGroup(node: KaNode): Converted<SyncGroup> {
  const findings: Finding[] = [];
  const members: string[] = [];
  const notify: WrittenVrrpNotify = {};
  for (const c of node.children ?? []) {
    if (c.keyword === 'group') members.push(...(c.children ?? []).map((m) => m.keyword));
    else if (c.keyword === 'notify' || c.keyword.startsWith('notify_')) findings.push(...vrrpNotifyEntry(c, notify));
    else if (c.keyword === 'smtp_alert') {
      if (bool(c.args[0])) findings.push(notCarried(c, 'failoverd sends no email'));
    } else findings.push(unknownKeyword(c, 'vrrp_sync_group'));
  }
  const value: SyncGroup = { name: safeName(node.args[0] ?? 'group'), members };
  if (Object.keys(notify).length) value.notify = notify;
  return { value, findings };
}
