import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../lab/configs.js';
import { KEEP_DIR, keepServe, keepSend } from '../lab/keep.js';
import { runEcmpLab } from '../lab/ecmp-scenario.js';
import { PARTS, runScenario, type PartName } from '../lab/scenario.js';
import { ensureSystemPackages } from '../lab/system-packages.js';
import { findUmlRun, prepareUmlKernel } from '../lab/uml-harness.js';
import { parseDuration } from '../config/duration.js';
import { parseCommandLine, UsageError, type Command, type CommandOptions } from './command.js';

const USAGE = `Usage: failoverd lab [--scenario NAME[,NAME]] [--advert 1s|100ms] [--keep [--keep-for 1h]]
       failoverd lab --topology ecmp
       failoverd lab exec -- COMMAND [ARG...]     (while a --keep lab runs)
       failoverd lab stop

Builds the seed's LVS-DR lab and plays a failover scenario, narrated as a
timeline, then prints a summary table. Exit status 0 only when every
expectation held.

  client 10.6.2.10 ── bridge ── lvs-a 10.6.2.193 (failoverd, config/lab-a.yaml, priority 150)
                             ── lvs-b 10.6.2.194 (failoverd, config/lab-b.yaml, priority 100)
                             ── rs1 10.6.2.191, rs2 10.6.2.192 (HTTP, failoverd realserver setup)
  VIP 10.6.2.195:80, DR forwarding, round-robin, IPVS sync daemon between the directors.

IPVS is needed, so on a normal machine the lab runs inside a User-Mode Linux
kernel (Debian's user-mode-linux, started through test/harness/uml-run.sh);
it needs root, and installs the Debian packages it needs first (user-mode-linux
kmod ipvsadm iproute2, one line saying which; a normal user gets the apt-get
command). Every address lives only in network namespaces inside it.

Scenario parts (--scenario, default all, in this order):
  spread    traffic reaches both real servers
  health    rs1's HTTP server is killed: it leaves the table, no client error
            afterwards; it returns and is answered again
  failover  a long-lived connection is opened and synced; lvs-a crashes
            (kill -9 + power off); lvs-b takes the VIP, its GARP updates the
            client's ARP cache; the gap the client saw; the long connection is
            still answered by the same real server
  preempt   lvs-a boots again and takes the VIP back (runs failover first)

  --topology ecmp   instead: a router (BIRD: BGP, BFD, multipath) and directors
            d1-d4 each running failoverd + BIRD in routing mode (mh + sloppy_tcp),
            rs1-rs3, a client holding 300 long-lived connections and opening 50
            new ones a second; plays a drain, an added director, a failing real
            server, a BIRD restart and a power cut, then the power cut and drain
            against the baseline (wlc, no sloppy) (docs/ecmp.md)

Options:
  --scenario NAME[,NAME]  run only these parts (and what they need)
  --advert DURATION       the directors' advert_interval (default: the configs', 1s);
                          a copy of the configs is written to a temp dir
  --keep                  leave the lab running afterwards; poke at it from another
                          terminal with "failoverd lab exec -- CMD", end with
                          "failoverd lab stop" (or after --keep-for, default 1h)
  --prefix P              prefix for namespace names (default none: client, lvs-a, ...)
  --mem SIZE              UML memory (default 2G)
  --here                  build the lab in this kernel instead of a UML one (it
                          needs IPVS; the namespaces are still the lab's own)
  -h, --help`;

const cliPath = (): string => fileURLToPath(new URL('../cli.js', import.meta.url));

const OPTIONS = {
  scenario: { type: 'string' },
  topology: { type: 'string' },
  advert: { type: 'string' },
  keep: { type: 'boolean' },
  'keep-for': { type: 'string' },
  prefix: { type: 'string' },
  mem: { type: 'string' },
  here: { type: 'boolean' },
} as const satisfies CommandOptions;

export const command: Command = {
  name: 'lab',
  options: OPTIONS,
  summary: "the seed's two-director DR lab in UML: failover scenario with a timeline",
  usage: USAGE,
  async run(argv) {
    if (argv[0] === 'exec' || argv[0] === 'stop') return keepSend(argv[0], argv.slice(argv[1] === '--' ? 2 : 1));
    const { values: flags } = parseCommandLine(argv, OPTIONS);
    const parts =
      typeof flags['scenario'] === 'string'
        ? flags['scenario']
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [];
    const bad = parts.filter((p) => !(PARTS as readonly string[]).includes(p) && p !== 'all');
    if (bad.length) throw new UsageError(`unknown scenario "${bad[0]}" (parts: ${PARTS.join(', ')}, all)`);
    const advert = typeof flags['advert'] === 'string' ? flags['advert'] : undefined;
    if (advert !== undefined && parseDuration(advert) === undefined)
      throw new UsageError(`--advert "${advert}" is not a duration (e.g. 1s, 100ms)`);
    const keepFor = typeof flags['keep-for'] === 'string' ? parseDuration(flags['keep-for']) : 3_600_000;
    if (keepFor === undefined) throw new UsageError(`--keep-for "${String(flags['keep-for'])}" is not a duration`);
    const keep = flags['keep'] === true;
    const topology = typeof flags['topology'] === 'string' ? flags['topology'] : 'pair';
    if (topology !== 'pair' && topology !== 'ecmp') throw new UsageError(`unknown topology "${topology}" (pair, ecmp)`);
    if (topology === 'ecmp' && (parts.length > 0 || advert !== undefined || keep))
      throw new UsageError('--topology ecmp plays its whole scenario: --scenario, --advert and --keep are for the pair lab');

    if (process.env['FAILOVERD_IN_UML'] !== '1' && flags['here'] !== true)
      return runInUml(argv, typeof flags['mem'] === 'string' ? flags['mem'] : '2G', keep ? keepFor : 0, topology === 'ecmp');

    if (process.getuid?.() !== 0) {
      process.stderr.write('failoverd lab: needs root (network namespaces, IPVS)\n');
      return 1;
    }
    if (!existsSync('/proc/net/ip_vs')) {
      process.stderr.write(
        'failoverd lab --here: this kernel has no IPVS (modprobe ip_vs), or drop --here to run the lab in a UML kernel\n',
      );
      return 1;
    }
    if (topology === 'ecmp') return (await runEcmpLab()).ok ? 0 : 1;
    const result = await runScenario({
      parts: parts.includes('all') ? [] : (parts as PartName[]),
      ...(advert ? { advertInterval: advert } : {}),
      ...(typeof flags['prefix'] === 'string' ? { prefix: flags['prefix'] } : {}),
      ...(keep ? { keep: (lab) => keepServe(lab, keepFor) } : {}),
    });
    return result.ok ? 0 : 1;
  },
};

async function runInUml(argv: string[], mem: string, keepMs: number, ecmp: boolean): Promise<number> {
  // First what to install (a normal user is told the exact apt-get command), then root.
  const packages = ensureSystemPackages('failoverd lab', [ecmp ? 'lab-ecmp' : 'lab']);
  if (!packages.ok) {
    process.stderr.write(`${packages.message}\n`);
    return 1;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      'failoverd lab: needs root: it boots a User-Mode Linux kernel and builds network namespaces in it (sudo failoverd lab)\n',
    );
    return 1;
  }
  const umlRun = findUmlRun();
  if (!umlRun) {
    process.stderr.write(
      `failoverd lab: this kernel has no IPVS and the UML harness was not found (looked for ${join(projectRoot(), 'test/harness/uml-run.sh')}; set FAILOVERD_UML_RUN)\n`,
    );
    return 1;
  }
  const notBooting = prepareUmlKernel('failoverd lab', umlRun);
  if (notBooting) {
    process.stderr.write(`${notBooting}\n`);
    return 1;
  }
  if (keepMs > 0)
    process.stdout.write(
      `the lab will stay up after the scenario; from another terminal: failoverd lab exec -- ip netns exec client curl -s http://10.6.2.195/ (files in ${KEEP_DIR})\n`,
    );
  // The ECMP scenario starts ten namespaces' daemons, and its baseline starts them again.
  const timeoutS = Math.ceil((ecmp ? 1800 : 900) + keepMs / 1000);
  const child = spawn('bash', [umlRun, '--mem', mem, '--timeout', String(timeoutS), '--', process.execPath, cliPath(), 'lab', ...argv], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  return code;
}
