// Reads and changes this network namespace's real-server settings: lo addresses
// through rtnetlink, ARP sysctls through /proc/sys (which shows the caller's namespace).
import { readFile, writeFile } from 'node:fs/promises';
import { type RtNetlink } from '../net/rtnetlink.js';
import { DR_SYSCTLS, realServerGaps, sysctlPath, type LoAddress, type RealServerGap, type RealServerState } from './plan.js';

export async function readRealServerState(rtnl: RtNetlink): Promise<RealServerState> {
  const lo = await rtnl.getLink('lo');
  const addresses = await rtnl.listAddresses({ ifindex: lo.index });
  const sysctls: Record<string, string | undefined> = {};
  for (const s of DR_SYSCTLS) {
    try {
      sysctls[s.key] = (await readFile(sysctlPath(s.key), 'utf8')).trim();
    } catch {
      sysctls[s.key] = undefined;
    }
  }
  return { loAddresses: addresses.map((a) => ({ address: a.address, prefixLength: a.prefixLength })), sysctls };
}

export async function checkRealServer(vips: LoAddress[], rtnl: RtNetlink): Promise<RealServerGap[]> {
  return realServerGaps(vips, await readRealServerState(rtnl));
}

/** Closes every gap; running it twice changes nothing the second time. Returns what it did. */
export async function setupRealServer(vips: LoAddress[], rtnl: RtNetlink): Promise<string[]> {
  const done: string[] = [];
  const gaps = await checkRealServer(vips, rtnl);
  const lo = await rtnl.getLink('lo');
  for (const gap of gaps) {
    if (gap.kind === 'sysctl') {
      await writeFile(sysctlPath(gap.setting.key), `${gap.setting.value}\n`);
      done.push(`set ${gap.setting.key} = ${gap.setting.value}`);
    } else {
      const wrong = (await rtnl.listAddresses({ ifindex: lo.index })).find((a) => a.address === gap.address.address);
      if (wrong) {
        await rtnl.deleteAddress({ ifindex: lo.index, address: wrong.address, prefixLength: wrong.prefixLength });
        done.push(`removed ${wrong.address}/${wrong.prefixLength} from lo`);
      }
      await rtnl.addAddress({ ifindex: lo.index, address: gap.address.address, prefixLength: gap.address.prefixLength });
      done.push(`added ${gap.address.address}/${gap.address.prefixLength} to lo`);
    }
  }
  if (!lo.adminUp) done.push('note: lo is down; bring it up with "ip link set lo up"');
  return done;
}
