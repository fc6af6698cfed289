// The one owner of "which Debian packages a job needs": the lab and each test tier
// declare the programs they start, with the package that provides each and why.
// Before the job, the missing ones are installed with apt-get (as root, one line
// saying which and why) or named in the exact command to run (as a normal user).
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';

export interface SystemNeed {
  package: string;
  /** Found on PATH (or an sbin directory) when the package is there. */
  program: string;
  why: string;
}

const UML: SystemNeed = {
  package: 'user-mode-linux',
  program: 'linux.uml',
  why: 'the User-Mode Linux kernel that has IPVS',
};
const KMOD: SystemNeed = { package: 'kmod', program: 'modprobe', why: 'modprobe for its IPVS modules' };
const IPROUTE2: SystemNeed = { package: 'iproute2', program: 'ip', why: 'ip and ss for the network namespaces' };
const IPVSADM: SystemNeed = { package: 'ipvsadm', program: 'ipvsadm', why: 'the independent IPVS reader' };
const PROCPS: SystemNeed = { package: 'procps', program: 'sysctl', why: 'sysctl inside the namespaces' };
const TCPDUMP: SystemNeed = { package: 'tcpdump', program: 'tcpdump', why: 'the independent wire observer' };
const KEEPALIVED: SystemNeed = { package: 'keepalived', program: 'keepalived', why: 'the VRRP interop peer' };
const BIRD: SystemNeed = { package: 'bird2', program: 'bird', why: 'the routing daemon of the ECMP lab and tests (router and directors)' };
const FRR: SystemNeed = { package: 'frr', program: 'vtysh', why: "FRR on the operator's router in the ECMP routing test" };
const OPENSSL: SystemNeed = { package: 'openssl', program: 'openssl', why: "the https check's test certificate" };
const SOCAT: SystemNeed = { package: 'socat', program: 'socat', why: "the udp check's real UDP servers" };
const DNSMASQ: SystemNeed = { package: 'dnsmasq-base', program: 'dnsmasq', why: "the dns check's real DNS server" };
const EXIM: SystemNeed = { package: 'exim4-daemon-light', program: 'exim4', why: "the smtp check's real MTA" };
const PYTHON3: SystemNeed = { package: 'python3', program: 'python3', why: "the http digest test's web server" };
const SYSTEMD: SystemNeed = {
  package: 'systemd',
  program: 'systemd-analyze',
  why: 'systemd-analyze to check the unit file',
};
const PATCHELF: SystemNeed = {
  package: 'patchelf',
  program: 'patchelf',
  why: 'to point the fetched UML kernel at its own libc',
};

const MMDEBSTRAP: SystemNeed = {
  package: 'mmdebstrap',
  program: 'mmdebstrap',
  why: 'the Debian 12 root the .deb is tested in under systemd',
};
const FAKEROOT: SystemNeed = { package: 'fakeroot', program: 'fakeroot', why: 'to build the .deb under test' };

export type Job = 'lab' | 'lab-ecmp' | 'unit' | 'netns' | 'uml' | 'uml-provision';

/** What each job starts (found by reading the lab, the harness and each tier's tests). */
export const JOB_NEEDS: Readonly<Record<Job, readonly SystemNeed[]>> = {
  lab: [UML, KMOD, IPVSADM, IPROUTE2],
  'lab-ecmp': [UML, KMOD, IPVSADM, IPROUTE2, PROCPS, BIRD],
  unit: [SYSTEMD],
  netns: [IPROUTE2, PROCPS, TCPDUMP, KEEPALIVED, OPENSSL, SOCAT, DNSMASQ, EXIM, PYTHON3, BIRD, FRR],
  uml: [UML, KMOD, IPVSADM, IPROUTE2, PROCPS, TCPDUMP, MMDEBSTRAP, FAKEROOT, BIRD, KEEPALIVED, DNSMASQ, EXIM],
  // Only when Debian's UML kernel does not boot here and provision-uml.sh fetches another.
  'uml-provision': [PATCHELF],
};

export const APT_INSTALL = ['apt-get', 'install', '-y', '--no-install-recommends'] as const;

export type InstallPlan =
  { action: 'none' } | { action: 'install'; say: string; packages: string[] } | { action: 'stop'; say: string; packages: string[] };

/** Pure: given the needs and which programs are present, what to do and what to say. */
export function planInstall(
  who: string,
  needs: readonly SystemNeed[],
  present: (program: string) => boolean,
  asRoot: boolean,
): InstallPlan {
  const whys = new Map<string, string[]>();
  for (const need of needs) {
    if (present(need.program)) continue;
    const reasons = whys.get(need.package) ?? [];
    if (!reasons.includes(need.why)) reasons.push(need.why);
    whys.set(need.package, reasons);
  }
  if (whys.size === 0) return { action: 'none' };
  const packages = [...whys.keys()];
  const because = [...whys.values()].flat().join(', ');
  if (asRoot) return { action: 'install', packages, say: `${who}: installing ${packages.join(' ')} (${because})` };
  return {
    action: 'stop',
    packages,
    say: `${who}: missing ${packages.join(' ')} (${because}); install with:\n` + `  sudo ${[...APT_INSTALL, ...packages].join(' ')}`,
  };
}

/** The union of several jobs' needs, in order. */
export function needsOf(jobs: readonly Job[]): SystemNeed[] {
  return [...new Set(jobs.flatMap((job) => JOB_NEEDS[job]))];
}

// Programs like ip and modprobe live in sbin, which a normal user's PATH lacks.
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** `command -v`, plus the sbin directories. */
export function programOnPath(program: string, path = process.env['PATH'] ?? ''): boolean {
  const dirs = [...path.split(delimiter).filter(Boolean), ...SBIN];
  return dirs.some((dir) => {
    const file = join(dir, program);
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

function aptListsPresent(): boolean {
  const lists = '/var/lib/apt/lists';
  return existsSync(lists) && readdirSync(lists).some((name) => name.includes('_Packages'));
}

function apt(argv: string[]): { ok: boolean; output: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 << 20,
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}

export interface EnsureResult {
  ok: boolean;
  message?: string;
}

/**
 * Installs what the jobs need and is missing (as root), or returns the command to
 * run (as a normal user). Says one line when it installs; silent when nothing is missing.
 */
export function ensureSystemPackages(
  who: string,
  jobs: readonly Job[],
  say: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): EnsureResult {
  const needs = needsOf(jobs);
  const plan = planInstall(who, needs, (p) => programOnPath(p), process.getuid?.() === 0);
  if (plan.action === 'none') return { ok: true };
  if (plan.action === 'stop') return { ok: false, message: plan.say };
  if (!programOnPath('apt-get')) {
    return {
      ok: false,
      message: `${who}: missing ${plan.packages.join(' ')} and this machine has no apt-get; ` + 'install them with its own package manager',
    };
  }
  say(plan.say);
  let updated = false;
  if (!aptListsPresent()) {
    const update = apt(['apt-get', 'update', '-qq']);
    if (!update.ok) return { ok: false, message: `${who}: apt-get update failed:\n${tail(update.output)}` };
    updated = true;
  }
  let install = apt([...APT_INSTALL, '-qq', ...plan.packages]);
  if (!install.ok && !updated) {
    // Stale package lists name versions the mirror no longer has: refresh once.
    const update = apt(['apt-get', 'update', '-qq']);
    if (update.ok) install = apt([...APT_INSTALL, '-qq', ...plan.packages]);
  }
  if (!install.ok) {
    const failed = `${who}: apt-get install ${plan.packages.join(' ')} failed`;
    return { ok: false, message: `${failed}:\n${tail(install.output)}` };
  }
  const still = needs.filter((need) => !programOnPath(need.program));
  if (still.length) {
    return { ok: false, message: `${who}: after apt-get install, still no ${still.map((n) => n.program).join(', ')}` };
  }
  return { ok: true };
}

function tail(output: string, lines = 15): string {
  return output.trim().split('\n').slice(-lines).join('\n');
}
