// RFC 3768/5798 7.1: a receiver MAY check the addresses an advert carries and SHOULD
// log a mismatch. What counts as the same set, and which mismatches earn a log line.
import { ipToBytes } from '../net/sockaddr.js';

/** A canonical, order-free key of an address list; an IPv6 link-local entry (fe80::/10) is a router's own, not a VIP, and is left out. */
export function addressSetKey(addresses: readonly string[]): string {
  return addresses
    .map((x) => ipToBytes(x).toString('hex'))
    .filter((hex) => !(hex.length === 32 && /^fe[89ab]/.test(hex)))
    .sort()
    .join(',');
}

/**
 * Which advert-address mismatches are worth a log line: a signature not among the last
 * MEMORY logged, and no more than PER_WINDOW lines per WINDOW_MS. The counter counts them all.
 */
export class MismatchLogLimit {
  static readonly MEMORY = 16;
  static readonly PER_WINDOW = 10;
  static readonly WINDOW_MS = 60_000;
  private readonly logged = new Map<string, true>();
  private lineTimes: number[] = [];

  shouldLog(signature: string, now: number): boolean {
    if (this.logged.has(signature)) {
      this.logged.delete(signature);
      this.logged.set(signature, true);
      return false;
    }
    this.lineTimes = this.lineTimes.filter((t) => now - t < MismatchLogLimit.WINDOW_MS);
    if (this.lineTimes.length >= MismatchLogLimit.PER_WINDOW) return false;
    this.lineTimes.push(now);
    this.logged.set(signature, true);
    if (this.logged.size > MismatchLogLimit.MEMORY) this.logged.delete(this.logged.keys().next().value!);
    return true;
  }

  clear(): void {
    this.logged.clear();
  }
}
