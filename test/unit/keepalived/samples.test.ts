// keepalived's own doc/samples (copied as test data, see the NOTE there): each either
// imports with no lossy finding and passes the loader, or is refused naming the
// file:line of each construct that would behave differently. The lines below were
// read against each sample: none of the refused constructs has a faithful equivalent.
// "Mailed about": the sample sets notification_email and smtp_server, so keepalived
// mails each real server's UP and DOWN (a real server's smtp_alert defaults to on).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigText } from '../../../src/config/index.js';
import { importKeepalived } from '../../../src/keepalived/import.js';

const samples = fileURLToPath(new URL('../../../../test/fixtures/keepalived/samples/', import.meta.url));

const EXPECTED_LOSSY_LINES: Record<string, number[]> = {
  'keepalived.conf.HTTP_GET.port': [20], // the real server keepalived would mail about (the MD5 digest carries over)
  'keepalived.conf.IPv6': [], // SMTP_CHECK carries over
  'keepalived.conf.PING_CHECK': [21], // the real server keepalived would mail about
  'keepalived.conf.SMTP_CHECK': [37, 56, 69, 73, 87, 102, 108], // host blocks' connect_ip other than the real server; real servers mailed about
  'keepalived.conf.SSL_GET': [20, 37, 62], // auth_type AH; real servers mailed about (digests carry over)
  'keepalived.conf.UDP_CHECK': [21, 23], // the real server mailed about; no require_reply: keepalived counts silence as up
  'keepalived.conf.conditional_conf': [6, 23, 25], // vrrp_script with no script for this node, use_vmac, the track_script naming it
  'keepalived.conf.default': [19, 43, 70, 91, 116, 137], // strict no_accept; real servers mailed about (digests carry over)
  'keepalived.conf.fwmark': [],
  'keepalived.conf.inhibit': [20], // the real server mailed about (the digest carries over)
  'keepalived.conf.misc_check': [21], // the real server mailed about
  'keepalived.conf.misc_check_arg': [20], // the real server mailed about
  'keepalived.conf.quorum': [30], // omega (quorum_up/quorum_down carry over)
  'keepalived.conf.sample': [35], // the real server mailed about
  'keepalived.conf.status_code': [21], // the real server mailed about
  'keepalived.conf.track_interface': [7, 28], // static_routes, virtual_routes
  'keepalived.conf.virtual_server_group': [29, 42], // the real servers mailed about
  'keepalived.conf.virtualhost': [22], // the real server mailed about
  'keepalived.conf.vrrp': [17, 38, 52, 69], // smtp_alert
  'keepalived.conf.vrrp.localcheck': [25, 31, 37, 58, 59, 60, 79, 80, 81], // shell-only scripts (</dev/tcp), the track_script entries naming them
  'keepalived.conf.vrrp.lvs_syncd': [4, 5], // sync group members outside group { }
  'keepalived.conf.vrrp.routes': [7, 25],
  'keepalived.conf.vrrp.rules': [9, 24],
  'keepalived.conf.vrrp.scripts': [19], // smtp_alert (notify_* carry over)
  'keepalived.conf.vrrp.static_ipaddress': [7, 21],
  'keepalived.conf.vrrp.sync': [], // notify_* carry over
};

describe("import-keepalived over keepalived's doc/samples", () => {
  const files = readdirSync(samples)
    .filter((f) => f.startsWith('keepalived.conf'))
    .sort();
  it('covers every sample kept', () => assert.deepEqual(files, Object.keys(EXPECTED_LOSSY_LINES).sort()));
  for (const name of files) {
    it(`${name}: ${EXPECTED_LOSSY_LINES[name]?.length ? 'refused at each lossy line' : 'imports and passes the loader'}`, async () => {
      const result = importKeepalived(readFileSync(`${samples}${name}`, 'utf8'), name, { instance: 'director-b' });
      assert.deepEqual(
        result.lossy.map((f) => f.line),
        EXPECTED_LOSSY_LINES[name],
      );
      for (const f of result.lossy) assert.equal(f.file, name);
      if (result.lossy.length === 0) {
        const loaded = loadConfigText(result.yaml, name, { checkPlugins: await loadCheckPlugins(), env: {} });
        assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.map(formatConfigError).join('\n'));
      }
    });
  }
});
