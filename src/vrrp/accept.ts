// Instance-level acceptance of a received advert (RFC 3768 7.1, RFC 5798 7.1):
// after the codec says the bytes are a well-formed advert, is it one for us?
import { canonicalIpOrSelf } from '../net/address.js';
import {
  AUTH_NONE,
  AUTH_SIMPLE_PASSWORD,
  decodeAdvert,
  passwordAuthData,
  VRRP_TTL,
  type Decoded,
  type DecodedAdvert,
  type IpFamily,
  type VrrpVersion,
} from './packet.js';

export interface AcceptPolicy {
  family: IpFamily;
  version: VrrpVersion;
  vrid: number;
  /** v2: the configured interval; adverts with another are dropped. */
  intervalCs: number;
  /** v2 simple password; undefined = no authentication. */
  password?: string | undefined;
  /** Our own source addresses (canonical): packets from them are ours. */
  ownAddresses: ReadonlySet<string>;
  /** Unicast mode: only these senders (canonical) are accepted. */
  unicastPeers?: ReadonlySet<string>;
}

export interface ReceivedPacket {
  /** The VRRP message (IP payload). */
  payload: Uint8Array;
  source: string;
  destination: string;
  /** IPv4 TTL or IPv6 hop limit; undefined when the kernel did not report it. */
  ttl: number | undefined;
  /** How long before it was read the kernel received it, in ms (0 when unknown). */
  ageMs?: number;
}

export interface AcceptedAdvert extends DecodedAdvert {
  source: string;
}

/** The policy's address sets hold canonical addresses (net/address.ts); the packet's source is made canonical here. */
export function acceptAdvert(packet: ReceivedPacket, policy: AcceptPolicy): Decoded<AcceptedAdvert> {
  const source = canonicalIpOrSelf(packet.source);
  if (policy.ownAddresses.has(source)) {
    return { ok: false, reason: 'own_packet', detail: `from our own address ${source}` };
  }
  if (policy.unicastPeers && !policy.unicastPeers.has(source)) {
    return { ok: false, reason: 'not_a_peer', detail: `${source} is not a unicast peer` };
  }
  if (packet.ttl !== VRRP_TTL) return { ok: false, reason: 'bad_ttl', detail: `TTL/hop limit ${packet.ttl ?? 'unknown'}, must be 255` };
  const decoded = decodeAdvert(packet.payload, { family: policy.family, source: packet.source, destination: packet.destination });
  if (!decoded.ok) return decoded;
  const advert = decoded.value;
  if (advert.version !== policy.version)
    return { ok: false, reason: 'wrong_version', detail: `VRRPv${advert.version}, instance runs v${policy.version}` };
  if (advert.vrid !== policy.vrid) return { ok: false, reason: 'wrong_vrid', detail: `VRID ${advert.vrid}, instance has ${policy.vrid}` };
  if (advert.version === 2) {
    const authDetail = checkAuth(advert, policy.password);
    if (authDetail) return { ok: false, reason: 'auth_mismatch', detail: authDetail };
    if (advert.intervalCs !== policy.intervalCs) {
      return {
        ok: false,
        reason: 'interval_mismatch',
        detail: `advert interval ${advert.intervalCs / 100}s, instance has ${policy.intervalCs / 100}s`,
      };
    }
  }
  return { ok: true, value: { ...advert, source } };
}

function checkAuth(advert: DecodedAdvert, password: string | undefined): string | undefined {
  const expectedType = password === undefined ? AUTH_NONE : AUTH_SIMPLE_PASSWORD;
  if (advert.authType !== expectedType) return `auth type ${advert.authType}, instance expects ${expectedType}`;
  if (password !== undefined && !passwordAuthData(password).equals(advert.authData!)) return 'wrong password';
  return undefined;
}
