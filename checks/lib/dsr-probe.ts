// The DSR check's probe as a pure reducer: the frames to send first, then for
// each frame the packet socket delivers, the new state, frames to send, and a
// verdict once there is one. checks/dsr.ts does the I/O around it.
//
// Order: ARP who-has VIP, ARP who-has REAL-SERVER (the real server answers in the
// order asked, so a wrong answer for the VIP comes before its own); on the real
// server's MAC, a TCP SYN to VIP:port at that MAC, as IPVS-DR forwards a client's
// SYN; a SYN-ACK with ack = ISN + 1 is up (then RST, the half-open connection is
// not left on the server), an RST is down.
import {
  arpRequestFrame,
  ARP_REPLY,
  formatMac,
  TCP_ACK,
  TCP_RST,
  TCP_SYN,
  tcpFrame,
  type ParsedFrame,
} from '../../src/net/ether-frames.js';

export interface DsrProbe {
  /** The director's MAC and IPv4 address on the link shared with the real server. */
  directorMac: Buffer;
  director: string;
  realServer: string;
  vip: string;
  port: number;
  sourcePort: number;
  /** Initial sequence number of the SYN. */
  isn: number;
  /** IPv4 identification of the SYN (the RST uses the next one). */
  ipId: number;
  /** Ask who-has VIP too: an answer from the real server is down. */
  arpCheck: boolean;
}

export interface DsrState {
  phase: 'arp' | 'syn' | 'done';
  realServerMac?: Buffer;
  /** MACs that answered or announced the VIP before the real server's MAC was known. */
  vipClaimers: Buffer[];
}

export interface DsrVerdict {
  ok: boolean;
  reason: string;
}

export interface DsrStep {
  state: DsrState;
  send: Buffer[];
  verdict?: DsrVerdict;
}

export function startProbe(p: DsrProbe): DsrStep {
  const send = [arpRequestFrame(p.directorMac, p.director, p.realServer)];
  if (p.arpCheck) send.unshift(arpRequestFrame(p.directorMac, p.director, p.vip));
  return { state: { phase: 'arp', vipClaimers: [] }, send };
}

export function synFrame(p: DsrProbe, realServerMac: Buffer): Buffer {
  return tcpFrame({
    sourceMac: p.directorMac,
    destinationMac: realServerMac,
    source: p.director,
    destination: p.vip,
    sourcePort: p.sourcePort,
    destinationPort: p.port,
    seq: p.isn,
    ack: 0,
    flags: TCP_SYN,
    id: p.ipId,
  });
}

export function rstFrame(p: DsrProbe, realServerMac: Buffer): Buffer {
  return tcpFrame({
    sourceMac: p.directorMac,
    destinationMac: realServerMac,
    source: p.director,
    destination: p.vip,
    sourcePort: p.sourcePort,
    destinationPort: p.port,
    seq: (p.isn + 1) >>> 0,
    ack: 0,
    flags: TCP_RST,
    id: (p.ipId + 1) & 0xffff,
  });
}

function claimVerdict(p: DsrProbe, mac: Buffer, op: number): DsrVerdict {
  const who = `real server ${p.realServer} (${formatMac(mac)})`;
  return op === ARP_REPLY
    ? { ok: false, reason: `${who} answers ARP for the VIP ${p.vip}: it would take the VIP from the director (arp_ignore must be 1)` }
    : { ok: false, reason: `${who} sends ARP from the VIP ${p.vip}: it would take the VIP from the director (arp_announce must be 2)` };
}

const ignore = (state: DsrState): DsrStep => ({ state, send: [] });

export function onFrame(p: DsrProbe, state: DsrState, frame: ParsedFrame): DsrStep {
  if (state.phase === 'done') return ignore(state);
  if (frame.kind === 'arp') {
    if (p.arpCheck && frame.senderIp === p.vip) {
      if (state.realServerMac) {
        if (!frame.senderMac.equals(state.realServerMac)) return ignore(state);
        return { state: { ...state, phase: 'done' }, send: [], verdict: claimVerdict(p, frame.senderMac, frame.op) };
      }
      return ignore({ ...state, vipClaimers: [...state.vipClaimers, frame.senderMac] });
    }
    if (state.phase !== 'arp' || frame.op !== ARP_REPLY || frame.senderIp !== p.realServer || frame.targetIp !== p.director)
      return ignore(state);
    const realServerMac = frame.senderMac;
    const claimed = state.vipClaimers.find((m) => m.equals(realServerMac));
    if (claimed) return { state: { ...state, realServerMac, phase: 'done' }, send: [], verdict: claimVerdict(p, realServerMac, ARP_REPLY) };
    return { state: { ...state, realServerMac, phase: 'syn' }, send: [synFrame(p, realServerMac)] };
  }
  if (frame.kind !== 'tcp' || state.phase !== 'syn' || !state.realServerMac) return ignore(state);
  if (frame.source !== p.vip || frame.sourcePort !== p.port || frame.destination !== p.director || frame.destinationPort !== p.sourcePort)
    return ignore(state);
  if (!(frame.flags & TCP_ACK) || frame.ack !== (p.isn + 1) >>> 0) return ignore(state);
  const at = `${p.vip}:${p.port} at ${p.realServer}'s MAC ${formatMac(state.realServerMac)}`;
  if (frame.flags & TCP_RST)
    return { state: { ...state, phase: 'done' }, send: [], verdict: { ok: false, reason: `connection refused (RST) by ${at}` } };
  if (frame.flags & TCP_SYN) {
    return {
      state: { ...state, phase: 'done' },
      send: [rstFrame(p, state.realServerMac)],
      verdict: { ok: true, reason: `SYN-ACK from ${at}` },
    };
  }
  return ignore(state);
}

/** Why a run that got no verdict failed, by how far it got. */
export function silenceReason(p: DsrProbe, state: DsrState, interfaceName: string, why: string): string {
  if (state.phase === 'arp') return `no ARP reply from ${p.realServer} on ${interfaceName}: ${why}`;
  return `no answer from ${p.vip}:${p.port} at ${p.realServer}'s MAC ${formatMac(state.realServerMac!)} (is the VIP on its lo?): ${why}`;
}
