// What the first pass over a keepalived.conf learns (global_defs, vrrp_sync_group,
// virtual_server_group), shared read-only by every block converter of the second pass.
import type { KaNode } from './parse.js';
import type { FileDef, ProcessDef, ScriptDef } from './vrrp-script.js';
import type { WrittenIpvs, WrittenNode } from './written.js';

/** What global_defs decides for every vrrp_instance. */
export interface VrrpDefaults {
  version?: number | undefined;
  strict: boolean;
  startupDelayMs?: number | undefined;
  garp: { count?: number | undefined; intervalMs?: number | undefined; refreshMs?: number | undefined; delayMs?: number | undefined };
  /** global_defs lvs_sync_daemon: the connection-sync daemon follows this instance. */
  syncDaemon?: {
    instance: string;
    interface: string;
    id?: number | undefined;
    port?: number | undefined;
    group?: string | undefined;
    maxlen?: number | undefined;
    ttl?: number | undefined;
  };
}

export interface GlobalSettings {
  node?: WrittenNode;
  vrrp: VrrpDefaults;
  /** global_defs lvs_timeouts → ipvs.timeouts. */
  ipvs?: WrittenIpvs;
  /** Settings whose effect depends on the rest of the file (IPv6 VIPs, the scripts it runs). */
  gnaInterval?: KaNode;
  scriptUser?: KaNode;
  scriptSecurity?: KaNode;
  /** vrrp_rt_priority and vrrp_rlimit_rttime → vrrp_realtime, judged once the file's instances are known. */
  rtPriority?: KaNode;
  rlimitRttime?: KaNode;
  /**
   * keepalived mails a real server's UP and DOWN unless the server sets smtp_alert itself:
   * it can mail (notification_email has an address, smtp_server is set: smtp.c), and the
   * server's default, global smtp_alert_checker, else smtp_alert, else on (check_data.c), is on.
   */
  realServersMailed?: boolean;
}

export const noGlobalSettings = (): GlobalSettings => ({ vrrp: { strict: false, garp: {} } });

export interface ImportContext {
  readonly globals: GlobalSettings;
  /** An instance's keepalived name → its sync group's failoverd name. */
  readonly syncGroupOf: ReadonlyMap<string, string>;
  /** virtual_server_group blocks by name, for the virtual_servers that name one. */
  readonly serverGroups: ReadonlyMap<string, KaNode>;
  /** vrrp_script, track_file and vrrp_track_process blocks by name (undefined: refused where defined). */
  readonly scripts: ReadonlyMap<string, ScriptDef | undefined>;
  readonly files: ReadonlyMap<string, FileDef | undefined>;
  readonly processes: ReadonlyMap<string, ProcessDef | undefined>;
}
