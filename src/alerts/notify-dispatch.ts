// keepalived's notify programs, per object: which commands one event runs, in order.
// Pure functions of the event (and, for a sync group, of the group's last notified
// state); NotifyRunner runs what they return, one at a time.
import type { AgentEvent, EventType } from '../events.js';

/** keepalived's states as its scripts see them ($3 of `notify`). */
export type KeepalivedState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

/** A VRRP instance's or sync group's programs, each already an argv. */
export interface VrrpNotifyCommands {
  onMaster?: string[];
  onBackup?: string[];
  onFault?: string[];
  onStop?: string[];
  /** keepalived's `notify`: every transition, after the state's own program, with TYPE NAME STATE PRIORITY appended. */
  onChange?: string[];
}

export type NotifyTarget =
  | { kind: 'instance'; instance: string; commands: VrrpNotifyCommands }
  | { kind: 'group'; group: string; members: readonly string[]; commands: VrrpNotifyCommands }
  | { kind: 'quorum'; service: string; onUp?: string[]; onDown?: string[] }
  | { kind: 'realserver'; service: string; server: string; onUp?: string[]; onDown?: string[] };

/** failoverd's instance state (vrrp.state's `to`) as keepalived names it; init = stopped. */
export function keepalivedState(to: string | undefined): KeepalivedState | undefined {
  switch (to?.toLowerCase()) {
    case 'master':
      return 'MASTER';
    case 'backup':
      return 'BACKUP';
    case 'fault':
      return 'FAULT';
    case 'init':
      return 'STOP';
    default:
      return undefined;
  }
}

/** keepalived's PRIORITY argument: the priority the transition happened at ('' when unknown). */
function priorityArgument(event: AgentEvent): string {
  const priority = event.data?.priority;
  return typeof priority === 'number' ? String(priority) : '';
}

/** keepalived's `notify` arguments for an instance's transition, `INSTANCE NAME STATE PRIORITY`; [] for any other event. */
export function instanceArguments(event: AgentEvent): string[] {
  const state = event.type === 'vrrp.state' ? keepalivedState(event.to) : undefined;
  if (!state) return [];
  const name = event.object.startsWith('vrrp/') ? event.object.slice('vrrp/'.length) : event.object;
  return ['INSTANCE', name, state, priorityArgument(event)];
}

function vrrpCommands(
  commands: VrrpNotifyCommands,
  type: 'INSTANCE' | 'GROUP',
  name: string,
  state: KeepalivedState,
  priority: string,
): string[][] {
  const own = { MASTER: commands.onMaster, BACKUP: commands.onBackup, FAULT: commands.onFault, STOP: commands.onStop }[state];
  const out: string[][] = [];
  if (own) out.push([...own]);
  if (commands.onChange) out.push([...commands.onChange, type, name, state, priority]);
  return out;
}

/** The event types a target listens to. */
export function notifyEventTypes(target: NotifyTarget): EventType[] {
  switch (target.kind) {
    case 'instance':
    case 'group':
      return ['vrrp.state'];
    case 'quorum':
      return ['quorum.lost', 'quorum.regained'];
    case 'realserver':
      return ['realserver.up', 'realserver.down'];
  }
}

/**
 * A dispatcher for one target: event → the commands to run, in order ([] = none).
 * A sync group notifies once per group state: when the first member reaches a state the
 * group was not last notified in (keepalived sends group notifies with priority 0).
 */
export function notifyDispatcher(target: NotifyTarget): (event: AgentEvent) => string[][] {
  switch (target.kind) {
    case 'instance':
      return (event) => {
        if (event.type !== 'vrrp.state' || event.object !== `vrrp/${target.instance}`) return [];
        const state = keepalivedState(event.to);
        if (!state) return [];
        return vrrpCommands(target.commands, 'INSTANCE', target.instance, state, priorityArgument(event));
      };
    case 'group': {
      let last: KeepalivedState | undefined;
      const members = new Set(target.members.map((m) => `vrrp/${m}`));
      return (event) => {
        if (event.type !== 'vrrp.state' || !members.has(event.object)) return [];
        const state = keepalivedState(event.to);
        if (!state || state === last) return [];
        last = state;
        return vrrpCommands(target.commands, 'GROUP', target.group, state, '0');
      };
    }
    case 'quorum':
      return (event) => {
        if (event.object !== `service/${target.service}`) return [];
        const command = event.type === 'quorum.regained' ? target.onUp : event.type === 'quorum.lost' ? target.onDown : undefined;
        return command ? [[...command]] : [];
      };
    case 'realserver':
      return (event) => {
        if (event.object !== `service/${target.service}/${target.server}`) return [];
        const command = event.type === 'realserver.up' ? target.onUp : event.type === 'realserver.down' ? target.onDown : undefined;
        return command ? [[...command]] : [];
      };
  }
}
