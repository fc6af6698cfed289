// Reads the classic libpcap files tcpdump -w writes (Ethernet link type).
import { readFileSync } from 'node:fs';
import { bytesToIp } from '../../../src/net/sockaddr.js';

export interface PcapFrame {
  timeUs: number;
  data: Buffer;
}

export function readPcap(path: string): PcapFrame[] {
  const b = readFileSync(path);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${path}: not a pcap file`);
  const nano = (le ? magic : b.readUInt32BE(0)) === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const frames: PcapFrame[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const sec = u32(o),
      frac = u32(o + 4),
      caplen = u32(o + 8);
    frames.push({ timeUs: sec * 1e6 + (nano ? frac / 1000 : frac), data: b.subarray(o + 16, o + 16 + caplen) });
    o += 16 + caplen;
  }
  return frames;
}

export interface CapturedVrrp {
  family: 4 | 6;
  source: string;
  destination: string;
  ttl: number;
  payload: Buffer;
  frame: Buffer;
}

function ipText(bytes: Buffer): string {
  return bytesToIp(bytes);
}

/** VRRP packets (IP protocol 112) in a capture, with their IP envelope. */
export function vrrpPackets(frames: PcapFrame[]): CapturedVrrp[] {
  const out: CapturedVrrp[] = [];
  for (const { data } of frames) {
    const type = data.readUInt16BE(12);
    if (type === 0x0800 && data[14 + 9] === 112) {
      const ihl = (data[14]! & 0x0f) * 4;
      const total = data.readUInt16BE(16);
      out.push({
        family: 4,
        source: ipText(data.subarray(26, 30)),
        destination: ipText(data.subarray(30, 34)),
        ttl: data[22]!,
        payload: data.subarray(14 + ihl, 14 + total),
        frame: data,
      });
    } else if (type === 0x86dd && data[14 + 6] === 112) {
      const length = data.readUInt16BE(18);
      out.push({
        family: 6,
        source: ipText(data.subarray(22, 38)),
        destination: ipText(data.subarray(38, 54)),
        ttl: data[21]!,
        payload: data.subarray(54, 54 + length),
        frame: data,
      });
    }
  }
  return out;
}

export function framesOfType(frames: PcapFrame[], predicate: (f: Buffer) => boolean): Buffer[] {
  return frames.map((f) => f.data).filter(predicate);
}
