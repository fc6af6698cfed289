// Classic BPF programs (struct sock_filter[]) for packet sockets, as bytes for
// DatagramSocket.attachFilter: the kernel runs them per frame, so a probe's
// socket wakes only for the few frames it can use, not for all of a busy link.
import { endianness } from 'node:os';
import { ipToBytes } from './sockaddr.js';

export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// <linux/bpf_common.h>
const BPF_LD = 0x00,
  BPF_LDX = 0x01,
  BPF_JMP = 0x05,
  BPF_RET = 0x06;
const BPF_W = 0x00,
  BPF_H = 0x08,
  BPF_B = 0x10;
const BPF_ABS = 0x20,
  BPF_IND = 0x40,
  BPF_MSH = 0xa0;
const BPF_JEQ = 0x10,
  BPF_JSET = 0x40,
  BPF_K = 0x00;

const ACCEPT_BYTES = 0x40000;

/** struct sock_filter in the host's byte order (the kernel reads it as a C struct). */
export function encodeBpf(program: readonly BpfInstruction[], littleEndian = endianness() === 'LE'): Buffer {
  const b = Buffer.alloc(program.length * 8);
  program.forEach((ins, i) => {
    const o = i * 8;
    if (littleEndian) b.writeUInt16LE(ins.code, o);
    else b.writeUInt16BE(ins.code, o);
    b[o + 2] = ins.jt;
    b[o + 3] = ins.jf;
    if (littleEndian) b.writeUInt32LE(ins.k >>> 0, o + 4);
    else b.writeUInt32BE(ins.k >>> 0, o + 4);
  });
  return b;
}

/**
 * Accepts ARP frames, and unfragmented IPv4 TCP segments from `from`:`fromPort`
 * to port `toPort` (the answers to one SYN probe); drops everything else.
 * Frames are Ethernet (no VLAN tag: the kernel strips it before packet sockets).
 */
export function synProbeFilter(from: string, fromPort: number, toPort: number): BpfInstruction[] {
  const source = ipToBytes(from);
  if (source.length !== 4) throw new RangeError(`the SYN probe filter is for IPv4 addresses, got ${from}`);
  const ACCEPT = 14,
    DROP = 15;
  const at = (target: number, i: number): number => target - i - 1;
  const p: BpfInstruction[] = [
    /* 0 */ { code: BPF_LD | BPF_H | BPF_ABS, jt: 0, jf: 0, k: 12 }, // ethertype
    /* 1 */ { code: BPF_JMP | BPF_JEQ | BPF_K, jt: at(ACCEPT, 1), jf: 0, k: 0x0806 },
    /* 2 */ { code: BPF_JMP | BPF_JEQ | BPF_K, jt: 0, jf: at(DROP, 2), k: 0x0800 },
    /* 3 */ { code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: 26 }, // IPv4 source
    /* 4 */ { code: BPF_JMP | BPF_JEQ | BPF_K, jt: 0, jf: at(DROP, 4), k: source.readUInt32BE(0) },
    /* 5 */ { code: BPF_LD | BPF_B | BPF_ABS, jt: 0, jf: 0, k: 23 }, // protocol
    /* 6 */ { code: BPF_JMP | BPF_JEQ | BPF_K, jt: 0, jf: at(DROP, 6), k: 6 },
    /* 7 */ { code: BPF_LD | BPF_H | BPF_ABS, jt: 0, jf: 0, k: 20 }, // fragment offset
    /* 8 */ { code: BPF_JMP | BPF_JSET | BPF_K, jt: at(DROP, 8), jf: 0, k: 0x1fff },
    /* 9 */ { code: BPF_LDX | BPF_B | BPF_MSH, jt: 0, jf: 0, k: 14 }, // X = IPv4 header length
    /* 10 */ { code: BPF_LD | BPF_H | BPF_IND, jt: 0, jf: 0, k: 14 }, // TCP source port
    /* 11 */ { code: BPF_JMP | BPF_JEQ | BPF_K, jt: 0, jf: at(DROP, 11), k: fromPort },
    /* 12 */ { code: BPF_LD | BPF_H | BPF_IND, jt: 0, jf: 0, k: 16 }, // TCP destination port
    /* 13 */ { code: BPF_JMP | BPF_JEQ | BPF_K, jt: at(ACCEPT, 13), jf: at(DROP, 13), k: toPort },
    /* 14 */ { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: ACCEPT_BYTES },
    /* 15 */ { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 0 },
  ];
  return p;
}

/**
 * Runs a program over a frame as the kernel would (only the instructions the
 * programs here use): returns how many bytes it keeps, 0 = dropped. For tests.
 */
export function runBpf(program: readonly BpfInstruction[], frame: Uint8Array): number {
  const f = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  let a = 0,
    x = 0;
  for (let pc = 0, steps = 0; pc < program.length && steps < 4096; steps++) {
    const { code, jt, jf, k } = program[pc]!;
    const load = (offset: number, size: number): number | undefined =>
      offset + size > f.length ? undefined : size === 4 ? f.readUInt32BE(offset) : size === 2 ? f.readUInt16BE(offset) : f[offset]!;
    const size = (code & 0x18) === BPF_H ? 2 : (code & 0x18) === BPF_B ? 1 : 4;
    switch (code & 0x07) {
      case BPF_LD: {
        const v = load((code & 0xe0) === BPF_IND ? x + k : k, size);
        if (v === undefined) return 0; // the kernel drops a frame read out of bounds
        a = v;
        pc++;
        break;
      }
      case BPF_LDX: {
        const v = load(k, 1);
        if (v === undefined) return 0;
        x = (v & 0x0f) * 4;
        pc++;
        break;
      }
      case BPF_JMP: {
        const taken = (code & 0xf0) === BPF_JSET ? (a & k) !== 0 : a === k >>> 0;
        pc += 1 + (taken ? jt : jf);
        break;
      }
      case BPF_RET:
        return k;
      default:
        throw new Error(`runBpf: instruction 0x${code.toString(16)} not supported`);
    }
  }
  return 0;
}
