// What the lab and the test tiers install on a fresh machine, and from where:
// the package plan (given which programs are present), the UML probe verdicts,
// and the apt sources parser that finds the machine's own Debian mirror.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debianMirror, parseDeb822Sources, parseOneLineSources, readMachineSources } from '../../../src/lab/apt-sources.js';
import { JOB_NEEDS, needsOf, planInstall, programOnPath } from '../../../src/lab/system-packages.js';
import { judgeProbe } from '../../../src/lab/uml-harness.js';

const only =
  (...present: string[]) =>
  (program: string): boolean =>
    present.includes(program);

test("a fresh machine (none of the lab's programs): root installs them all, in one line that says why", () => {
  const plan = planInstall('failoverd lab', JOB_NEEDS.lab, only(), true);
  assert.deepEqual(plan, {
    action: 'install',
    packages: ['user-mode-linux', 'kmod', 'ipvsadm', 'iproute2'],
    say:
      'failoverd lab: installing user-mode-linux kmod ipvsadm iproute2 (the User-Mode Linux kernel that has IPVS, ' +
      'modprobe for its IPVS modules, the independent IPVS reader, ip and ss for the network namespaces)',
  });
});

test('only what is missing is installed; nothing missing means nothing said', () => {
  const plan = planInstall('failoverd lab', JOB_NEEDS.lab, only('ip', 'modprobe'), true);
  assert.equal(plan.action, 'install');
  assert.deepEqual(plan.action === 'install' && plan.packages, ['user-mode-linux', 'ipvsadm']);
  assert.deepEqual(planInstall('failoverd lab', JOB_NEEDS.lab, only('linux.uml', 'modprobe', 'ipvsadm', 'ip'), true), { action: 'none' });
});

test('a normal user is stopped with the exact command to run', () => {
  const plan = planInstall('failoverd lab', JOB_NEEDS.lab, only('ip', 'ipvsadm'), false);
  assert.equal(plan.action, 'stop');
  assert.equal(
    plan.action === 'stop' && plan.say,
    'failoverd lab: missing user-mode-linux kmod ' +
      '(the User-Mode Linux kernel that has IPVS, modprobe for its IPVS modules); ' +
      'install with:\n  sudo apt-get install -y --no-install-recommends user-mode-linux kmod',
  );
});

test('the test tiers: one package per program, each named once even when several tiers need it', () => {
  const needs = needsOf(['unit', 'netns', 'uml']);
  const plan = planInstall('npm test', needs, only(), true);
  assert.equal(plan.action, 'install');
  assert.deepEqual(plan.action === 'install' && plan.packages, [
    'systemd',
    'iproute2',
    'procps',
    'tcpdump',
    'keepalived',
    'openssl',
    'socat',
    'dnsmasq-base',
    'exim4-daemon-light',
    'python3',
    'bird2',
    'frr',
    'user-mode-linux',
    'kmod',
    'ipvsadm',
    'mmdebstrap',
    'fakeroot',
  ]);
  assert.equal(needs.filter((n) => n.package === 'iproute2').length, 1);
});

test("programOnPath is command -v plus the sbin directories a normal user's PATH lacks", () => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-path-'));
  try {
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(dir, 'data'), 'not a program', { mode: 0o644 });
    mkdirSync(join(dir, 'adir'));
    assert.equal(programOnPath('tool', dir), true);
    assert.equal(programOnPath('data', dir), false);
    assert.equal(programOnPath('adir', dir), false);
    assert.equal(programOnPath('tool', '/nonexistent'), false);
    assert.equal(programOnPath('failoverd-no-such-program', dir), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('UML probe: missing before boot is "not installed", a boot failure is told apart, AMX by its message', () => {
  assert.deepEqual(judgeProbe(0, ''), { boots: true });
  const notInstalled = 'uml-run: no UML kernel installed ' + '(/usr/bin/linux.uml is missing: apt-get install user-mode-linux)';
  assert.deepEqual(judgeProbe(3, `${notInstalled}\n`), { boots: false, missing: true, said: notInstalled });
  const amx = judgeProbe(124, 'ptrace set fp regs failed, errno = 14\numl-run: the kernel /usr/bin/linux.uml stopped without a result\n');
  assert.equal(amx.boots === false && !amx.missing && amx.amx, true);
  const other = judgeProbe(124, 'Kernel panic - not syncing: no init found\n');
  assert.equal(other.boots === false && !other.missing && other.amx, false);
});

// Real-looking /etc/apt contents: each with the mirror a fetch of Debian's sid must use.
const ONE_LINE: Array<[string, string, string | undefined]> = [
  [
    'Debian 12 netinst',
    `#deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 NETINST]/ bookworm main
deb http://ftp.de.debian.org/debian/ bookworm main non-free-firmware
deb-src http://ftp.de.debian.org/debian/ bookworm main non-free-firmware
deb http://security.debian.org/debian-security bookworm-security main non-free-firmware
deb http://ftp.de.debian.org/debian/ bookworm-updates main non-free-firmware
`,
    'http://ftp.de.debian.org/debian',
  ],
  [
    'security first, options in brackets',
    `deb http://security.debian.org/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] https://mirror.example.net/debian bookworm main contrib
`,
    'https://mirror.example.net/debian',
  ],
  [
    'a proxy in the URI, trailing comment',
    'deb http://apt-cacher.lan:3142/deb.debian.org/debian stable main # via the cache\n',
    'http://apt-cacher.lan:3142/deb.debian.org/debian',
  ],
  ['only third-party sources', 'deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n', undefined],
  ['Ubuntu', 'deb http://archive.ubuntu.com/ubuntu jammy main restricted\n', undefined],
  ['a cdrom only', 'deb cdrom:[Debian GNU/Linux 12]/ bookworm main\n', undefined],
  ['no main component', 'deb http://deb.debian.org/debian bookworm contrib\n', undefined],
];

for (const [name, text, mirror] of ONE_LINE) {
  test(`apt sources, one-line: ${name}`, () => assert.equal(debianMirror(parseOneLineSources(text)), mirror));
}

const DEB822: Array<[string, string, string | undefined]> = [
  [
    'Debian 12 container image (debian.sources)',
    `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`,
    'http://deb.debian.org/debian',
  ],
  [
    'Debian 13 cloud image (mirror+file)',
    `Types: deb deb-src
URIs: mirror+file:///etc/apt/mirrors/debian.list
Suites: trixie trixie-updates trixie-backports
Components: main
`,
    'mirror+file:///etc/apt/mirrors/debian.list',
  ],
  [
    'disabled first paragraph, several URIs, lower-case keys, inline key block',
    `Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

types: deb
uris: cdrom:/media/cdrom/ https://mirror.example.org/debian/
suites: bookworm
components: main contrib
signed-by:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NfJHoHlJTUZuBMN5oj+jKNHhOq
 -----END PGP PUBLIC KEY BLOCK-----
`,
    'https://mirror.example.org/debian',
  ],
  [
    'only deb-src',
    `Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
`,
    undefined,
  ],
  [
    'nodesource',
    `Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
`,
    undefined,
  ],
];

for (const [name, text, mirror] of DEB822) {
  test(`apt sources, deb822: ${name}`, () => assert.equal(debianMirror(parseDeb822Sources(text)), mirror));
}

test("the machine's sources are read in apt's order, only *.list and *.sources in sources.list.d", () => {
  const etc = mkdtempSync(join(tmpdir(), 'failoverd-apt-'));
  try {
    mkdirSync(join(etc, 'sources.list.d'));
    writeFileSync(join(etc, 'sources.list.d', 'a.list.disabled'), 'deb http://disabled.example/debian bookworm main\n');
    writeFileSync(join(etc, 'sources.list.d', 'b.list'), 'deb http://from-b.example/debian bookworm main\n');
    writeFileSync(
      join(etc, 'sources.list.d', 'a.sources'),
      'Types: deb\nURIs: http://from-a.example/debian\nSuites: sid\nComponents: main\n',
    );
    assert.equal(debianMirror(readMachineSources(etc)), 'http://from-a.example/debian');
    writeFileSync(join(etc, 'sources.list'), 'deb http://from-main.example/debian bookworm main\n');
    assert.equal(debianMirror(readMachineSources(etc)), 'http://from-main.example/debian');
  } finally {
    rmSync(etc, { recursive: true, force: true });
  }
});
