// Sync groups (keepalived vrrp_sync_group): instances that change state
// together. When a member changes state on its own, the others follow: MASTER
// pulls them to MASTER, BACKUP to BACKUP, FAULT puts them in FAULT until no
// member is faulted any more. A member that resigned (an admin step-down) makes the
// others resign too, each with its own priority-0 advert, so that every VIP of the group
// moves at once rather than some after a master-down interval.
import type { VrrpState } from './fsm.js';

export type SyncCommand = 'master' | 'backup' | 'resign' | 'fault' | 'fault-cleared';

export interface SyncMemberView {
  name: string;
  state: VrrpState;
  /** Faulted by its own tracking (not by the group). */
  ownFault: boolean;
}

/** Pure: which commands the other members get after `changed` went from → to on its own. */
export function syncCommands(
  members: readonly SyncMemberView[],
  changed: string,
  from: VrrpState,
  to: VrrpState,
  resigned = false,
): { name: string; command: SyncCommand }[] {
  const others = members.filter((m) => m.name !== changed);
  if (to === 'fault') return others.map((m) => ({ name: m.name, command: 'fault' as const }));
  if (to === 'init') return [];
  const commands: { name: string; command: SyncCommand }[] = [];
  const anyOtherFaulted = others.some((m) => m.ownFault);
  if (from === 'fault' && !anyOtherFaulted) for (const m of others) commands.push({ name: m.name, command: 'fault-cleared' });
  if (to === 'master') for (const m of others) commands.push({ name: m.name, command: 'master' });
  if (to === 'backup' && from === 'master')
    for (const m of others) commands.push({ name: m.name, command: resigned ? 'resign' : 'backup' });
  return commands;
}

export interface SyncMember {
  readonly name: string;
  syncView(): SyncMemberView;
  applySync(command: SyncCommand): void;
}

export class VrrpSyncGroup {
  private readonly members = new Map<string, SyncMember>();
  private propagating = false;

  constructor(readonly name: string) {}

  add(member: SyncMember): void {
    this.members.set(member.name, member);
  }

  remove(name: string): void {
    this.members.delete(name);
  }

  /** Called by a member after it changed state for a reason of its own (`resigned`: an admin step-down). */
  memberChanged(name: string, from: VrrpState, to: VrrpState, resigned = false): void {
    // Transitions caused by the group do not propagate again (no ping-pong).
    if (this.propagating) return;
    const views = [...this.members.values()].map((m) => m.syncView());
    this.propagating = true;
    try {
      for (const { name: target, command } of syncCommands(views, name, from, to, resigned)) this.members.get(target)?.applySync(command);
    } finally {
      this.propagating = false;
    }
  }
}
