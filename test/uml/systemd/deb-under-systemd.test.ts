// The Debian package under real systemd: a Debian 12 root (mmdebstrap from this
// machine's apt sources, cached) boots in the UML kernel with systemd as PID 1,
// `apt install ./failoverd_<version>_amd64.deb`, then start (active only after the
// agent's READY=1), reload applying a change, a bad config rejected while the service
// stays up, the watchdog killing a SIGSTOPped agent and restarting it, the capability
// set, the systemd-analyze exposure, and stop sending a priority-0 advert (tcpdump in
// the guest). The guest's checks are test/harness/systemd-guest.sh; this file boots it.
// It starts its own UML kernel, so the tier runner runs it on the host, not in UML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
// The test's own build (gzip, amd64) beside, never over, `npm run package`'s.
const out = join(root, 'packaging/out/test');
const deb = process.env['FAILOVERD_DEB'] ?? join(out, `failoverd_${version}_amd64.deb`);

/** The .deb, rebuilt when the agent it runs (the bundle) is newer than it. */
function ensureDeb(): void {
  const cli = join(root, 'dist/bundle/src/cli.js');
  if (existsSync(deb) && statSync(deb).mtimeMs >= statSync(cli).mtimeMs) return;
  const r = spawnSync('bash', [join(root, 'packaging/deb.sh'), 'amd64'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, FAILOVERD_DEB_COMPRESSION: 'gzip', FAILOVERD_PACKAGE_OUT: out },
  });
  assert.equal(r.status, 0, `packaging/deb.sh amd64 failed:\n${r.stdout}${r.stderr}`);
}

const EXPECTED = [
  'install',
  'group',
  'conffile',
  'man-pages',
  'no-system-node',
  'example-config',
  'start-after-ready',
  'capabilities',
  'exposure',
  'reload',
  'bad-reload-rejected',
  'watchdog',
  'stop-priority-0',
  'scripts-as-root',
  'realtime',
];

const name = 'the .deb installs with apt in a Debian 12 booted under systemd, and the unit behaves';
test(name, { timeout: 2_400_000 }, (t) => {
  ensureDeb();
  const keep = mkdtempSync(join(tmpdir(), 'failoverd-systemd-out-'));
  try {
    const r = spawnSync('bash', [join(root, 'test/harness/systemd-boot.sh'), deb, keep], {
      encoding: 'utf8',
      timeout: 2_300_000,
      maxBuffer: 16 << 20,
    });
    const lines = r.stdout.trim().split('\n').filter(Boolean);
    for (const line of lines) t.diagnostic(line);
    if (r.status !== 0 && lines.length === 0) t.diagnostic(r.stderr.trim().split('\n').slice(-30).join('\n'));
    const results = new Map(
      lines.map((line) => {
        const m = /^(ok|FAIL) ([a-z0-9-]+):/.exec(line);
        return [m?.[2] ?? line, m?.[1] ?? line] as const;
      }),
    );
    assert.ok(lines.includes('done'), 'the guest ran all its checks');
    for (const check of EXPECTED) {
      const said = lines.find((l) => l.includes(` ${check}:`)) ?? 'not run';
      assert.equal(results.get(check), 'ok', `${check}: ${said}`);
    }
    assert.equal(lines.filter((l) => l.startsWith('FAIL')).length, 0);
    assert.equal(r.status, 0);
  } finally {
    if (process.env['FAILOVERD_KEEP']) t.diagnostic(`guest console, journal and result kept in ${keep}`);
    else rmSync(keep, { recursive: true, force: true });
  }
});
