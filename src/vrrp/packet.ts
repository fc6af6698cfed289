// VRRP advertisement codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798), IPv4 and
// IPv6. Pure: bytes in, a value or a reasoned rejection out; never throws on input.
import { bytesToIp, ipToBytes } from '../net/sockaddr.js';
import { checksumIsValid, internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader } from './checksum.js';

export const VRRP_PROTOCOL = 112;
export const VRRP_MULTICAST_V4 = '224.0.0.18';
export const VRRP_MULTICAST_V6 = 'ff02::12';
export const VRRP_TTL = 255;
const TYPE_ADVERTISEMENT = 1;
const HEADER_LENGTH = 8;
const V2_AUTH_LENGTH = 8;

export type VrrpVersion = 2 | 3;
export type IpFamily = 4 | 6;

/** RFC 3768 section 5.3.6; type 2 (IP AH) is obsolete and never accepted. */
export const AUTH_NONE = 0;
export const AUTH_SIMPLE_PASSWORD = 1;

/**
 * How a VRRPv3 IPv4 checksum is computed. keepalived (and RFC 5798 read
 * literally) folds in an IPv4 pseudo-header; RFC 9568 and some vendors
 * checksum the VRRP message alone.
 */
export type V3Ipv4ChecksumMode = 'pseudo-header' | 'message-only';

export interface VrrpAdvert {
  version: VrrpVersion;
  vrid: number;
  /** 0 = the master resigns, 255 = address owner. */
  priority: number;
  /** Advertisement interval in centiseconds (v2 carries whole seconds). */
  intervalCs: number;
  /** The virtual addresses, IPv4 or IPv6 text. */
  addresses: string[];
  /** v2 only. */
  authType?: number;
  /** v2 only: the 8 authentication bytes. */
  authData?: Buffer;
}

/** Where the advert travels: the pseudo-header inputs. */
export interface AdvertEnvelope {
  family: IpFamily;
  source: string;
  destination: string;
}

/**
 * Machine-readable reasons a received packet is dropped; stable, used as the
 * "reason" label of the dropped-adverts counter.
 */
export type DropReason =
  | 'bad_ip_header'
  | 'not_vrrp'
  | 'too_short'
  | 'bad_version'
  | 'bad_type'
  | 'bad_length'
  | 'bad_address_count'
  | 'bad_checksum'
  | 'bad_interval'
  | 'bad_ttl'
  | 'wrong_version'
  | 'wrong_vrid'
  | 'auth_mismatch'
  | 'interval_mismatch'
  | 'own_packet'
  | 'not_a_peer'
  /** Never decoded: the kernel dropped it because the socket's receive queue was full (a flood, or a stalled loop). */
  | 'receive_queue_full';

export const DROP_REASONS: readonly DropReason[] = [
  'bad_ip_header',
  'not_vrrp',
  'too_short',
  'bad_version',
  'bad_type',
  'bad_length',
  'bad_address_count',
  'bad_checksum',
  'bad_interval',
  'bad_ttl',
  'wrong_version',
  'wrong_vrid',
  'auth_mismatch',
  'interval_mismatch',
  'own_packet',
  'not_a_peer',
  'receive_queue_full',
];

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: DropReason; detail: string };

function reject<T>(reason: DropReason, detail: string): Decoded<T> {
  return { ok: false, reason, detail };
}

export interface EncodeOptions {
  v3Ipv4Checksum?: V3Ipv4ChecksumMode;
}

function addressLength(family: IpFamily): number {
  return family === 4 ? 4 : 16;
}

function pseudoHeader(envelope: AdvertEnvelope, length: number): Buffer {
  const source = ipToBytes(envelope.source);
  const destination = ipToBytes(envelope.destination);
  return envelope.family === 4
    ? ipv4PseudoHeader(source, destination, VRRP_PROTOCOL, length)
    : ipv6PseudoHeader(source, destination, VRRP_PROTOCOL, length);
}

/** Encodes an advert (the IP payload). Throws only on a caller's invalid value. */
export function encodeAdvert(advert: VrrpAdvert, envelope: AdvertEnvelope, options: EncodeOptions = {}): Buffer {
  const { version, vrid, priority, intervalCs, addresses } = advert;
  if (version === 2 && envelope.family !== 4) throw new RangeError('VRRPv2 is IPv4 only (RFC 3768)');
  if (!Number.isInteger(vrid) || vrid < 1 || vrid > 255) throw new RangeError(`VRID must be 1..255, got ${vrid}`);
  if (!Number.isInteger(priority) || priority < 0 || priority > 255) throw new RangeError(`priority must be 0..255, got ${priority}`);
  if (addresses.length < 1 || addresses.length > 255) throw new RangeError(`an advert carries 1..255 addresses, got ${addresses.length}`);
  const size = addressLength(envelope.family);
  const length = HEADER_LENGTH + addresses.length * size + (version === 2 ? V2_AUTH_LENGTH : 0);
  const b = Buffer.alloc(length);
  b[0] = (version << 4) | TYPE_ADVERTISEMENT;
  b[1] = vrid;
  b[2] = priority;
  b[3] = addresses.length;
  if (version === 2) {
    const seconds = intervalCs / 100;
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 255)
      throw new RangeError(`VRRPv2 advert interval must be whole seconds 1..255, got ${intervalCs} cs`);
    b[4] = advert.authType ?? AUTH_NONE;
    b[5] = seconds;
  } else {
    if (!Number.isInteger(intervalCs) || intervalCs < 1 || intervalCs > 0xfff)
      throw new RangeError(`VRRPv3 advert interval must be 1..4095 cs, got ${intervalCs}`);
    b.writeUInt16BE(intervalCs, 4);
  }
  addresses.forEach((address, i) => {
    const bytes = ipToBytes(address);
    if (bytes.length !== size) throw new RangeError(`address ${address} is not IPv${envelope.family}`);
    b.set(bytes, HEADER_LENGTH + i * size);
  });
  if (version === 2 && advert.authData) b.set(advert.authData.subarray(0, V2_AUTH_LENGTH), length - V2_AUTH_LENGTH);
  const withPseudoHeader = version === 3 && (envelope.family === 6 || (options.v3Ipv4Checksum ?? 'pseudo-header') === 'pseudo-header');
  const checksum = withPseudoHeader ? internetChecksum(pseudoHeader(envelope, length), b) : internetChecksum(b);
  b.writeUInt16BE(checksum, 6);
  return b;
}

export interface DecodedAdvert extends VrrpAdvert {
  /** For v3 over IPv4: which checksum form the sender used. */
  checksumForm?: V3Ipv4ChecksumMode;
}

/** Decodes and structurally validates an advert (the IP payload). */
export function decodeAdvert(bytes: Uint8Array, envelope: AdvertEnvelope): Decoded<DecodedAdvert> {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEADER_LENGTH) return reject('too_short', `${b.length} bytes, a VRRP header has 8`);
  const version = b[0]! >> 4;
  const type = b[0]! & 0x0f;
  if (version !== 2 && version !== 3) return reject('bad_version', `version ${version}`);
  if (type !== TYPE_ADVERTISEMENT) return reject('bad_type', `type ${type}`);
  if (version === 2 && envelope.family !== 4) return reject('bad_version', 'VRRPv2 over IPv6');
  const count = b[3]!;
  if (count === 0) return reject('bad_address_count', 'no addresses');
  const size = addressLength(envelope.family);
  const expected = HEADER_LENGTH + count * size + (version === 2 ? V2_AUTH_LENGTH : 0);
  if (b.length !== expected) return reject('bad_length', `${b.length} bytes, ${count} address(es) make ${expected}`);

  let checksumForm: V3Ipv4ChecksumMode | undefined;
  if (version === 2) {
    if (!checksumIsValid(b)) return reject('bad_checksum', 'VRRPv2 checksum');
  } else if (envelope.family === 6) {
    if (!checksumIsValid(pseudoHeader(envelope, b.length), b)) return reject('bad_checksum', 'VRRPv3 IPv6 checksum');
  } else if (checksumIsValid(pseudoHeader(envelope, b.length), b)) {
    checksumForm = 'pseudo-header';
  } else if (checksumIsValid(b)) {
    checksumForm = 'message-only';
  } else {
    return reject('bad_checksum', 'VRRPv3 IPv4 checksum (with and without pseudo-header)');
  }

  const intervalCs = version === 2 ? b[5]! * 100 : b.readUInt16BE(4) & 0x0fff;
  if (intervalCs === 0) return reject('bad_interval', 'advert interval 0');
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) addresses.push(bytesToIp(b.subarray(HEADER_LENGTH + i * size, HEADER_LENGTH + (i + 1) * size)));
  const advert: DecodedAdvert = { version, vrid: b[1]!, priority: b[2]!, intervalCs, addresses };
  if (version === 2) {
    advert.authType = b[4]!;
    advert.authData = Buffer.from(b.subarray(expected - V2_AUTH_LENGTH));
  }
  if (checksumForm) advert.checksumForm = checksumForm;
  return { ok: true, value: advert };
}

export interface Ipv4Datagram {
  ttl: number;
  protocol: number;
  source: string;
  destination: string;
  payload: Buffer;
}

/** Splits what a raw IPv4 socket delivers into header fields and payload. */
export function decodeIpv4(bytes: Uint8Array): Decoded<Ipv4Datagram> {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 20) return reject('bad_ip_header', `${b.length} bytes, an IPv4 header has at least 20`);
  if (b[0]! >> 4 !== 4) return reject('bad_ip_header', `IP version ${b[0]! >> 4}`);
  const headerLength = (b[0]! & 0x0f) * 4;
  const totalLength = b.readUInt16BE(2);
  if (headerLength < 20 || headerLength > b.length) return reject('bad_ip_header', `header length ${headerLength}`);
  // Linux hands raw sockets the total length as sent; tolerate trailing padding but not truncation.
  if (totalLength < headerLength || totalLength > b.length)
    return reject('bad_ip_header', `total length ${totalLength} of ${b.length} bytes`);
  const protocol = b[9]!;
  if (protocol !== VRRP_PROTOCOL) return reject('not_vrrp', `IP protocol ${protocol}`);
  return {
    ok: true,
    value: {
      ttl: b[8]!,
      protocol,
      source: bytesToIp(b.subarray(12, 16)),
      destination: bytesToIp(b.subarray(16, 20)),
      payload: Buffer.from(b.subarray(headerLength, totalLength)),
    },
  };
}

/** The 8 authentication bytes of a v2 simple password (NUL-padded). */
export function passwordAuthData(password: string): Buffer {
  const data = Buffer.alloc(V2_AUTH_LENGTH);
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length > V2_AUTH_LENGTH) throw new RangeError(`a VRRPv2 password has at most 8 bytes, got ${bytes.length}`);
  bytes.copy(data);
  return data;
}
