// keepalived runs its scripts as root; the packaged unit runs failoverd, and so the
// programs an imported config runs, as user failoverd. The import says so, in its
// output and in the written file, and names the packaged drop-in that runs them as root.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importKeepalived, SCRIPTS_AS_ROOT_DROPIN } from '../../../src/keepalived/import.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

const instance = (extra: string) => `vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  virtual_ipaddress {
    10.6.2.195
  }
${extra}
}
`;

describe('import-keepalived: the user scripts run as', () => {
  it('a notify script: named, and the header points at the drop-in', () => {
    const r = importKeepalived(instance('  notify_master /etc/keepalived/master.sh'), 'k.conf');
    assert.deepEqual(r.lossy, []);
    assert.deepEqual(r.scriptsRunAsRoot, ['notify scripts']);
    assert.match(r.yaml, /^# keepalived ran the notify scripts as root\./m);
    assert.ok(r.yaml.includes(`#   install -D -m 0644 ${SCRIPTS_AS_ROOT_DROPIN} /etc/systemd/system/failoverd.service.d/`));
  });

  it('track scripts and MISC_CHECK are named too', () => {
    const text =
      'vrrp_script chk { script "/usr/local/bin/chk" }\n' +
      instance('  track_script {\n    chk\n  }') +
      'virtual_server 10.6.2.195 80 {\n  lb_kind DR\n  real_server 10.6.2.191 80 {\n    MISC_CHECK {\n      misc_path "/usr/local/bin/ok"\n    }\n  }\n}\n';
    const r = importKeepalived(text, 'k.conf');
    assert.deepEqual(r.lossy, []);
    assert.deepEqual(r.scriptsRunAsRoot, ['track scripts', 'MISC_CHECK scripts']);
  });

  it('no script: nothing said', () => {
    const r = importKeepalived(instance(''), 'k.conf');
    assert.deepEqual(r.scriptsRunAsRoot, []);
    assert.doesNotMatch(r.yaml, /as root/);
  });

  it('the drop-in it names is the one the package installs', () => {
    const deb = readFileSync(`${root}packaging/deb.sh`, 'utf8');
    assert.ok(deb.includes(`systemd/scripts-as-root.conf "$stage${SCRIPTS_AS_ROOT_DROPIN}"`), 'packaging/deb.sh installs it there');
    const dropin = readFileSync(`${root}systemd/scripts-as-root.conf`, 'utf8');
    assert.match(dropin, /^User=root$/m);
    assert.match(dropin, /^ProtectSystem=no$/m);
  });
});
