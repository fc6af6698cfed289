// keepalived's SMTP_CHECK, DNS_CHECK, UDP_CHECK and PING_CHECK after `failoverd
// import-keepalived`: the checks the imported config holds (as `failoverd check`
// accepts them) run against real servers in a namespace — exim, dnsmasq, a socat UDP
// echo, the server's kernel for ICMP — and pass; they fail on a wrong answer and when
// the server stops, as keepalived's checkers would.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigText, type FailoverdConfig } from '../../../src/config/index.js';
import type { CheckResult } from '../../../src/health/check.js';
import { sh } from '../../helpers/shell.js';
import { CheckLab, type LineProcess } from '../checks/lab.js';
import { dnsmasqArgv, ServerPrograms } from '../checks/servers.js';

const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const runnerScript = fileURLToPath(new URL('../checks/check-runner.js', import.meta.url));
let lab: CheckLab;
let runner: LineProcess;
let scratch: string;
let nextId = 1;
const servers = new ServerPrograms(() => lab.serverNs);

type ImportedCheck = FailoverdConfig['services'][number]['real_servers'][number]['checks'][number];

/** One run of an imported check against the real server it belongs to, bounded by the check's own timeout. */
async function run(check: ImportedCheck, port: number): Promise<CheckResult> {
  const id = nextId++;
  const target = { service: 'svc', address: lab.serverAddress, port };
  runner.send(JSON.stringify({ id, type: check.type, options: check.options, target, timeoutMs: check.timeout }));
  const answer = JSON.parse(await runner.next((l) => l.startsWith(`{"id":${id},`), check.timeout + 10_000)) as {
    result: CheckResult;
    error?: string;
  };
  if (answer.error) throw new Error(answer.error);
  return answer.result;
}

/** Runs until `want` (a server starting or stopping), at most 100 runs and 20 s. */
async function until(check: ImportedCheck, port: number, want: boolean): Promise<CheckResult> {
  const deadline = Date.now() + 20_000;
  let last: CheckResult | undefined;
  for (let i = 0; i < 100 && Date.now() < deadline; i++) {
    last = await run(check, port);
    if (last.ok === want) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${check.type} on port ${port} never ${want ? 'passed' : 'failed'}: ${last?.reason}`);
}

function keepalivedConf(server: string): string {
  return `global_defs {
   router_id imported-checks
}
virtual_server 10.201.0.100 25 {
    lb_kind DR
    real_server ${server} 25 {
        SMTP_CHECK {
            connect_timeout 2
            retry 0
            helo_name checker.failoverd.test
        }
    }
}
virtual_server 10.201.0.100 53 {
    lb_kind DR
    protocol UDP
    real_server ${server} 53 {
        DNS_CHECK {
            connect_timeout 2
            retry 0
            type A
            name web.failoverd.test
        }
    }
}
virtual_server 10.201.0.100 54 {
    lb_kind DR
    protocol UDP
    real_server ${server} 53 {
        DNS_CHECK {
            connect_timeout 2
            retry 0
            type A
            name nothing.failoverd.test
        }
    }
}
virtual_server 10.201.0.100 7001 {
    lb_kind DR
    protocol UDP
    real_server ${server} 7001 {
        UDP_CHECK {
            connect_timeout 2
            retry 0
            payload 50 49 4e 47
            require_reply 50 4X
        }
    }
}
virtual_server 10.201.0.100 7002 {
    lb_kind DR
    protocol UDP
    real_server ${server} 7001 {
        UDP_CHECK {
            connect_timeout 2
            retry 0
            payload 50494e47
            require_reply 504f
        }
    }
}
virtual_server 10.201.0.100 80 {
    lb_kind DR
    real_server ${server} 80 {
        PING_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
`;
}

function eximConfig(dir: string): string {
  return `primary_hostname = mx.failoverd.test
spool_directory = ${dir}/spool
log_file_path = ${dir}/log/%slog
pid_file_path = ${dir}/exim.pid
keep_environment =
exim_user = Debian-exim
exim_group = Debian-exim
local_interfaces = <; ${lab.serverAddress}.25
daemon_smtp_ports = 25
begin acl
begin routers
begin transports
`;
}

let checks: Map<number, ImportedCheck>;

before(async () => {
  for (const program of ['socat', 'dnsmasq', 'exim4']) {
    assert.ok(
      sh(['which', program], { check: false }).trim(),
      `${program} must be installed (src/lab/system-packages.ts lists its package)`,
    );
  }
  scratch = mkdtempSync(join(tmpdir(), 'failoverd-imported-checks-'));
  chmodSync(scratch, 0o755);
  lab = new CheckLab('k');
  runner = lab.start(lab.checkerNs, [runnerScript]);

  const conf = join(scratch, 'keepalived.conf');
  const out = join(scratch, 'failoverd.yaml');
  writeFileSync(conf, keepalivedConf(lab.serverAddress));
  const imported = spawnSync(process.execPath, [cli, 'import-keepalived', conf, '--output', out], { encoding: 'utf8' });
  assert.equal(imported.status, 0, imported.stderr);
  const checked = spawnSync(process.execPath, [cli, 'check', '--config', out], { encoding: 'utf8' });
  assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);
  const loaded = loadConfigText(readFileSync(out, 'utf8'), out, { checkPlugins: await loadCheckPlugins(), env: {} });
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.map(formatConfigError).join('\n'));
  // Each virtual_server here has one real server with one check: keyed by the service port.
  checks = new Map(loaded.config.services.map((s) => [s.port, s.real_servers[0]!.checks[0]!]));
  assert.deepEqual(
    [...checks].map(([port, c]) => [port, c.type]),
    [
      [25, 'smtp'],
      [53, 'dns'],
      [54, 'dns'],
      [7001, 'udp'],
      [7002, 'udp'],
      [80, 'ping'],
    ],
  );
});

after(async () => {
  await servers.stopAll();
  lab?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('imported SMTP_CHECK (exim): up with the HELO name; down when exim stops', async () => {
  const dir = join(scratch, 'exim');
  for (const sub of ['spool', 'log']) {
    mkdirSync(join(dir, sub), { recursive: true });
    chmodSync(join(dir, sub), 0o777);
  }
  writeFileSync(join(dir, 'exim.conf'), eximConfig(dir));
  servers.start('exim', ['exim4', '-C', join(dir, 'exim.conf'), '-bdf']);
  const smtp = checks.get(25)!;
  assert.equal(smtp.options['helo_name'], 'checker.failoverd.test');
  assert.equal(smtp.options['greeting'], 'helo');
  const up = await until(smtp, 25, true);
  assert.match(up.reason, /^220 banner, HELO 250/, 'HELO only, as keepalived says it (greeting: helo)');
  await servers.stop('exim');
  const down = await until(smtp, 25, false);
  assert.match(down.reason, /ECONNREFUSED|ECONNRESET/);
});

test('imported DNS_CHECK (dnsmasq): NOERROR is up, NXDOMAIN (a name it does not have) is down, a stopped server is down', async () => {
  servers.start('dnsmasq', dnsmasqArgv(lab.serverAddress, join(scratch, 'dnsmasq.pid'), ['--host-record=web.failoverd.test,10.1.2.3']));
  const up = await until(checks.get(53)!, 53, true);
  assert.match(up.reason, /^NOERROR, 1 A record over udp$/);
  const wrong = await run(checks.get(54)!, 53);
  assert.deepEqual([wrong.ok, wrong.reason], [false, 'rcode NXDOMAIN, expected NOERROR']);
  await servers.stop('dnsmasq');
  const down = await until(checks.get(53)!, 53, false);
  assert.match(down.reason, /ICMP port unreachable/);
});

test('imported UDP_CHECK (socat echo): payload sent, reply checked against require_reply (X nibble); wrong reply and stopped server are down', async () => {
  servers.start('udp-echo', ['socat', '-T', '2', `UDP4-RECVFROM:7001,bind=${lab.serverAddress},fork`, 'EXEC:/bin/cat']);
  const up = await until(checks.get(7001)!, 7001, true);
  assert.equal(up.reason, 'reply of 4 bytes from port 7001');
  const wrong = await run(checks.get(7002)!, 7001);
  assert.equal(wrong.ok, false);
  assert.match(wrong.reason, /^reply "PING" does not match/);
  await servers.stop('udp-echo');
  const down = await until(checks.get(7001)!, 7001, false);
  assert.match(down.reason, /ICMP port unreachable/);
});

test("imported PING_CHECK: the server's kernel answers keepalived's 128-byte echo; an ignored echo is down", async () => {
  const ping = checks.get(80)!;
  const up = await run(ping, 80);
  assert.deepEqual([up.ok, up.reason], [true, `ICMP echo reply from ${lab.serverAddress}, 128 bytes`]);
  sh(['ip', 'netns', 'exec', lab.serverNs, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1']);
  try {
    const down = await run(ping, 80);
    assert.equal(down.ok, false);
    assert.match(down.reason, /^no ICMP echo reply/);
  } finally {
    sh(['ip', 'netns', 'exec', lab.serverNs, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=0']);
  }
});
