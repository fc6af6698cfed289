// The shape the importer writes: failoverd.yaml's own input type, taken from the config
// schema (src/config/schema.ts), so a renamed or removed key breaks the build here.
import type { z } from 'zod';
import type { buildConfigSchema } from '../config/schema.js';

type ConfigInput = z.input<ReturnType<typeof buildConfigSchema>>;

/**
 * A schema input as the importer writes it. Keys are the schema's; none is required, and
 * a literal type is widened to its base type: a value keepalived gave that failoverd does
 * not take (a missing virtual_router_id, `protocol foo`) is written as given, and the
 * loader refuses it with its line, as "failoverd check" would.
 */
export type Written<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends readonly (infer E)[]
        ? Written<E>[]
        : T extends object
          ? { [K in keyof T]?: Written<T[K]> | undefined }
          : T;

type Item<T> = T extends readonly (infer E)[] ? E : never;

export type WrittenConfig = Written<ConfigInput>;
export type WrittenNode = NonNullable<WrittenConfig['node']>;
export type WrittenIpvs = NonNullable<WrittenConfig['ipvs']>;
export type WrittenInstance = Item<NonNullable<WrittenConfig['vrrp']>>;
export type WrittenVip = Item<NonNullable<WrittenInstance['vips']>>;
export type WrittenTrackedInterface = Item<NonNullable<NonNullable<WrittenInstance['track']>['interfaces']>>;
export type WrittenGarp = NonNullable<WrittenInstance['garp']>;
export type WrittenSyncDaemon = NonNullable<WrittenInstance['sync_daemon']>;
export type WrittenTrack = NonNullable<WrittenInstance['track']>;
export type WrittenVrrpNotify = NonNullable<WrittenInstance['notify']>;
export type WrittenSyncGroup = Item<NonNullable<WrittenConfig['vrrp_sync_groups']>>;
export type WrittenService = Item<NonNullable<WrittenConfig['services']>>;
export type WrittenTunnel = NonNullable<WrittenService['tunnel']>;
export type WrittenSorryServer = NonNullable<WrittenService['sorry_server']>;
export type WrittenRealServer = Item<NonNullable<WrittenService['real_servers']>>;
/** One check: the common keys the schema names, and the check type's own keys. */
export type WrittenCheck = Exclude<NonNullable<WrittenService['check']>, unknown[]>;
