import type { AlertsConfig } from './alerts.js';
import type { NotifyTarget, VrrpNotifyCommands } from './notify-dispatch.js';
import type { NotifyHookConfig } from './programs.js';
import type { WebhookTemplate } from './template.js';

// The parsed `alerts:` section (snake_case keys, durations already in ms, as
// src/config produces it) → the alerts module's inputs. Structural types, so this
// file does not depend on the config module's internals.

export interface WebhookYaml {
  name?: string | undefined;
  url: string;
  secret?: string | undefined;
  secrets?: string[] | undefined;
  events?: string[] | undefined;
  timeout?: number | undefined;
  retries?: number | undefined;
  headers?: Record<string, string> | undefined;
  template?: WebhookTemplate | undefined;
  queue_size?: number | undefined;
}

export interface NotifyYaml {
  program: string;
  events?: string[] | undefined;
  timeout?: number | undefined;
}

type CommandYaml = string | string[];

export interface VrrpNotifyYaml {
  on_master?: CommandYaml | undefined;
  on_backup?: CommandYaml | undefined;
  on_fault?: CommandYaml | undefined;
  on_stop?: CommandYaml | undefined;
  on_change?: CommandYaml | undefined;
  timeout?: number | undefined;
}

/** The parts of the config that carry keepalived-style notify programs. */
export interface NotifyOwnersYaml {
  vrrp?: undefined | Array<{ name: string; sync_group?: string | undefined; notify?: VrrpNotifyYaml | undefined }>;
  vrrp_sync_groups?: undefined | Array<{ name: string; notify?: VrrpNotifyYaml | undefined }>;
  services?:
    | undefined
    | Array<{
        name: string;
        notify?:
          undefined | { on_quorum_up?: CommandYaml | undefined; on_quorum_down?: CommandYaml | undefined; timeout?: number | undefined };
        real_servers: Array<{
          address: string;
          port: number;
          notify?: undefined | { on_up?: CommandYaml | undefined; on_down?: CommandYaml | undefined; timeout?: number | undefined };
        }>;
      }>;
}

/** A command as argv: a list as written, a string through /bin/sh -c (as track scripts). */
function argv(command: CommandYaml | undefined): string[] | undefined {
  if (command === undefined) return undefined;
  return typeof command === 'string' ? ['/bin/sh', '-c', command] : [...command];
}

function vrrpCommands(n: VrrpNotifyYaml): VrrpNotifyCommands {
  const out: VrrpNotifyCommands = {};
  const set = (key: keyof VrrpNotifyCommands, c: CommandYaml | undefined): void => {
    const a = argv(c);
    if (a) out[key] = a;
  };
  set('onMaster', n.on_master);
  set('onBackup', n.on_backup);
  set('onFault', n.on_fault);
  set('onStop', n.on_stop);
  set('onChange', n.on_change);
  return out;
}

function hook(target: NotifyTarget, first: string[] | undefined, timeout: number | undefined): NotifyHookConfig {
  return { program: first?.[0] ?? '', target, ...(timeout !== undefined ? { timeoutMs: timeout } : {}) };
}

/** keepalived-style notify programs of instances, sync groups, services and real servers, one hook per object. */
export function notifyHooksOf(config: NotifyOwnersYaml): NotifyHookConfig[] {
  const hooks: NotifyHookConfig[] = [];
  const firstOf = (c: VrrpNotifyCommands): string[] | undefined => c.onMaster ?? c.onBackup ?? c.onFault ?? c.onStop ?? c.onChange;
  for (const v of config.vrrp ?? []) {
    if (!v.notify) continue;
    const commands = vrrpCommands(v.notify);
    if (firstOf(commands)) hooks.push(hook({ kind: 'instance', instance: v.name, commands }, firstOf(commands), v.notify.timeout));
  }
  for (const g of config.vrrp_sync_groups ?? []) {
    if (!g.notify) continue;
    const commands = vrrpCommands(g.notify);
    const members = (config.vrrp ?? []).filter((v) => v.sync_group === g.name).map((v) => v.name);
    if (firstOf(commands)) hooks.push(hook({ kind: 'group', group: g.name, members, commands }, firstOf(commands), g.notify.timeout));
  }
  for (const s of config.services ?? []) {
    if (s.notify && (s.notify.on_quorum_up || s.notify.on_quorum_down)) {
      const onUp = argv(s.notify.on_quorum_up);
      const onDown = argv(s.notify.on_quorum_down);
      hooks.push(
        hook(
          { kind: 'quorum', service: s.name, ...(onUp ? { onUp } : {}), ...(onDown ? { onDown } : {}) },
          onUp ?? onDown,
          s.notify.timeout,
        ),
      );
    }
    for (const rs of s.real_servers) {
      if (!rs.notify || !(rs.notify.on_up || rs.notify.on_down)) continue;
      const onUp = argv(rs.notify.on_up);
      const onDown = argv(rs.notify.on_down);
      const server = rs.address.includes(':') ? `[${rs.address}]:${rs.port}` : `${rs.address}:${rs.port}`;
      hooks.push(
        hook(
          { kind: 'realserver', service: s.name, server, ...(onUp ? { onUp } : {}), ...(onDown ? { onDown } : {}) },
          onUp ?? onDown,
          rs.notify.timeout,
        ),
      );
    }
  }
  return hooks;
}

export function alertsFromConfig(
  alerts: { webhooks?: WebhookYaml[] | undefined; notify?: NotifyYaml[] | undefined },
  owners: NotifyOwnersYaml = {},
): AlertsConfig {
  return {
    webhooks: (alerts.webhooks ?? []).map((w) => ({
      url: w.url,
      ...(w.name !== undefined ? { name: w.name } : {}),
      ...(w.secret || w.secrets?.length ? { secrets: [...(w.secret ? [w.secret] : []), ...(w.secrets ?? [])] } : {}),
      ...(w.events ? { events: w.events } : {}),
      ...(w.timeout !== undefined ? { timeoutMs: w.timeout } : {}),
      ...(w.retries !== undefined ? { retries: w.retries } : {}),
      ...(w.headers ? { headers: w.headers } : {}),
      ...(w.template !== undefined ? { template: w.template } : {}),
      ...(w.queue_size !== undefined ? { queueSize: w.queue_size } : {}),
    })),
    notify: [
      ...(alerts.notify ?? []).map((n) => ({
        program: n.program,
        ...(n.events ? { events: n.events } : {}),
        ...(n.timeout !== undefined ? { timeoutMs: n.timeout } : {}),
      })),
      ...notifyHooksOf(owners),
    ],
  };
}
