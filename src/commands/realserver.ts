import { RtNetlink } from '../net/rtnetlink.js';
import { parseVips } from '../dr-host/plan.js';
import { checkRealServer, setupRealServer } from '../dr-host/system.js';
import { parseCommandLine, UsageError, type Command, type CommandOptions } from './command.js';

const USAGE = `Usage: failoverd realserver setup|check --vip IP[,IP...]

Prepares (setup) or verifies (check) a real server for direct routing (DR):
  - each VIP on lo as /32 (IPv4) or /128 (IPv6), so the server accepts packets
    addressed to the VIP and replies from it;
  - net.ipv4.conf.{all,lo}.arp_ignore = 1 and arp_announce = 2, so it never
    answers ARP for the VIP or uses it as an ARP source (IPv4 VIPs only).

check  prints what is missing and exits 1 when anything is; 0 when ready.
setup  changes only what is missing (running it again changes nothing); needs
       CAP_NET_ADMIN. Settings are not persisted across reboots: put the sysctls
       in /etc/sysctl.d/ and the address in your network configuration, or run
       "failoverd realserver setup" at boot.

Runs in the caller's network namespace (use "ip netns exec NAME failoverd ...").

Options:
  --vip IP[,IP...]  the virtual addresses the director balances
  -h, --help        this help`;

const OPTIONS = { vip: { type: 'string' } } as const satisfies CommandOptions;

export const command: Command = {
  name: 'realserver',
  options: OPTIONS,
  summary: 'set up or check a DR real server (VIP on lo, ARP sysctls)',
  usage: USAGE,
  async run(argv) {
    const { values: flags, positionals: rest } = parseCommandLine(argv, OPTIONS, true);
    const action = rest[0];
    if (action !== 'setup' && action !== 'check') throw new UsageError('expected "setup" or "check"');
    if (rest.length !== 1) throw new UsageError(`unexpected argument "${rest[1]}"`);
    if (flags['vip'] === undefined) throw new UsageError('--vip IP[,IP...] is required');
    const vips = parseVips(flags['vip']);
    if (typeof vips === 'string') throw new UsageError(`--vip: ${vips}`);
    const rtnl = new RtNetlink();
    try {
      if (action === 'setup') {
        const done = await setupRealServer(vips, rtnl);
        for (const line of done) process.stdout.write(`${line}\n`);
        const left = await checkRealServer(vips, rtnl);
        if (left.length) {
          for (const gap of left) process.stderr.write(`still missing: ${gap.message}\n`);
          return 1;
        }
        process.stdout.write(done.length ? 'real server ready\n' : 'real server already set up; nothing changed\n');
        return 0;
      }
      const gaps = await checkRealServer(vips, rtnl);
      if (gaps.length) {
        for (const gap of gaps) process.stdout.write(`missing: ${gap.message}\n`);
        process.stdout.write(
          `not ready for DR: ${gaps.length} thing(s) missing; "failoverd realserver setup --vip ${flags['vip']}" fixes them\n`,
        );
        return 1;
      }
      process.stdout.write(`ready for DR: ${vips.map((v) => `${v.address}/${v.prefixLength}`).join(', ')} on lo, ARP settings in place\n`);
      return 0;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const hint = e.code === 'EPERM' || e.code === 'EACCES' ? ' (needs CAP_NET_ADMIN: run as root)' : '';
      process.stderr.write(`failoverd realserver ${action}: ${e.message}${hint}\n`);
      return 1;
    } finally {
      rtnl.close();
    }
  },
};
