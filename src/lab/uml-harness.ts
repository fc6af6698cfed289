// The UML harness (test/harness/, shipped with the package) and a kernel that boots
// here: used by `failoverd lab` and by the UML test tier, so both say the same
// thing about what is wrong and both provision the same way.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { debianMirror, readMachineSources } from './apt-sources.js';
import { projectRoot } from './configs.js';
import { ensureSystemPackages } from './system-packages.js';

/** test/harness/uml-run.sh of the project or installed package (FAILOVERD_UML_RUN overrides). */
export function findUmlRun(root = projectRoot()): string | undefined {
  const candidates = [process.env['FAILOVERD_UML_RUN'], join(root, 'test/harness/uml-run.sh')].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(p));
}

// uml-run.sh exits 3 when something is missing before any boot is tried.
const UML_RUN_MISSING = 3;

export type ProbeVerdict =
  { boots: true } | { boots: false; missing: true; said: string } | { boots: false; missing: false; amx: boolean; said: string };

/** Pure: what a `uml-run.sh --probe` status and output mean. */
export function judgeProbe(status: number | null, output: string): ProbeVerdict {
  if (status === 0) return { boots: true };
  const said = output.trim().split('\n').filter(Boolean).slice(-2).join(' ') || `status ${status}`;
  if (status === UML_RUN_MISSING) return { boots: false, missing: true, said };
  return { boots: false, missing: false, amx: /ptrace set fp regs failed/.test(output), said };
}

function probe(umlRun: string): ProbeVerdict {
  const r = spawnSync('bash', [umlRun, '--probe'], { encoding: 'utf8', timeout: 120_000 });
  return judgeProbe(r.status, `${r.stdout ?? ''}${r.stderr ?? ''}`);
}

/**
 * A UML kernel that boots here. Debian 12's and 13's cannot start user space on
 * CPUs with AMX; provision-uml.sh (beside the harness) then fetches Debian
 * unstable's from the machine's own Debian mirror. Returns why not, or undefined.
 */
export function prepareUmlKernel(
  who: string,
  umlRun: string,
  say: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): string | undefined {
  const first = probe(umlRun);
  if (first.boots) return undefined;
  if (first.missing) return `${who}: no UML kernel installed (${first.said})`;
  say(
    first.amx
      ? `${who}: the installed UML kernel cannot start user space on this CPU (AMX: "ptrace set fp regs failed"); ` +
          "fetching Debian unstable's user-mode-linux, which can"
      : `${who}: the installed UML kernel does not boot here (${first.said}); ` + "fetching Debian unstable's user-mode-linux",
  );
  const provision = join(dirname(umlRun), 'provision-uml.sh');
  if (!existsSync(provision)) return `${who}: ${provision} is missing`;
  const tools = ensureSystemPackages(who, ['uml-provision'], say);
  if (!tools.ok) return tools.message;
  const mirror = process.env['FAILOVERD_DEBIAN_MIRROR'] ?? debianMirror(readMachineSources());
  if (!mirror) return `${who}: no Debian mirror in /etc/apt/sources.list or sources.list.d/ to fetch a UML kernel from`;
  const env = { ...process.env, FAILOVERD_DEBIAN_MIRROR: mirror };
  const r = spawnSync('bash', [provision], { stdio: 'inherit', env });
  if (r.status !== 0) return `${who}: provision-uml.sh failed (status ${r.status ?? r.signal})`;
  return undefined;
}
