// keepalived's real-time VRRP process (vrrp_rt_priority, vrrp_rlimit_rttime) becomes
// failoverd's vrrp_realtime; the import says the packaged unit refuses real-time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigText } from '../../../src/config/index.js';
import { importKeepalived } from '../../../src/keepalived/import.js';

const instance = `vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  virtual_ipaddress {
    10.6.2.195
  }
}
`;
const conf = (globals: string, body = instance) => `global_defs {\n${globals}\n}\n${body}`;
const messages = (r: ReturnType<typeof importKeepalived>) => r.findings.map((f) => `${f.kind} ${f.line}: ${f.message}`);

describe('import-keepalived: vrrp_rt_priority', () => {
  it('with vrrp_rlimit_rttime: priority and the limit carried over, and the result loads', async () => {
    const r = importKeepalived(conf('  vrrp_rt_priority 50\n  vrrp_rlimit_rttime 20000'), 'k.conf');
    assert.deepEqual(r.config.vrrp_realtime, { priority: 50, cpu_burst_limit: '20ms' });
    assert.deepEqual(messages(r), []);
    const loaded = loadConfigText(r.yaml, 'out.yaml', { checkPlugins: await loadCheckPlugins(), env: {} });
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.map(formatConfigError).join('\n'));
    assert.equal(loaded.config.vrrp_realtime?.priority, 50);
    assert.match(r.yaml, /^# vrrp_realtime \(keepalived's vrrp_rt_priority\): the packaged failoverd\.service refuses/m);
    assert.match(
      r.yaml,
      /^# {3}install -D -m 0644 \/usr\/share\/failoverd\/systemd\/realtime\.conf \/etc\/systemd\/system\/failoverd\.service\.d\/realtime\.conf$/m,
    );
  });

  it("without vrrp_rlimit_rttime: failoverd's default limit, and a warning naming keepalived's 10 ms", () => {
    const r = importKeepalived(conf('  vrrp_rt_priority 50'), 'k.conf');
    assert.deepEqual(r.config.vrrp_realtime, { priority: 50 });
    assert.deepEqual(r.lossy, []);
    assert.match(messages(r).join('\n'), /^warning 2: vrrp_rt_priority 50: keepalived limits a real-time burst to 10 ms by default/m);
  });

  it('a limit under 10 ms is rounded up to failoverd’s floor, with a warning', () => {
    const r = importKeepalived(conf('  vrrp_rt_priority 10\n  vrrp_rlimit_rttime 5000'), 'k.conf');
    assert.deepEqual(r.config.vrrp_realtime, { priority: 10, cpu_burst_limit: '10ms' });
    assert.match(messages(r).join('\n'), /^warning 3: vrrp_rlimit_rttime 5000: cpu_burst_limit 10ms/m);
  });

  it('an out-of-range priority is refused with its line; no instance or no priority: no effect, no key', () => {
    assert.match(
      messages(importKeepalived(conf('  vrrp_rt_priority 120'), 'k.conf')).join('\n'),
      /^lossy 2: vrrp_rt_priority 120: expected/m,
    );
    const alone = importKeepalived(conf('  vrrp_rt_priority 50', 'virtual_server 10.6.2.195 80 {\n  lb_kind DR\n}\n'), 'k.conf');
    assert.equal(alone.config.vrrp_realtime, undefined);
    assert.match(messages(alone).join('\n'), /no vrrp_instance, so no effect/);
    const limitOnly = importKeepalived(conf('  vrrp_rlimit_rttime 10000'), 'k.conf');
    assert.equal(limitOnly.config.vrrp_realtime, undefined);
    assert.match(messages(limitOnly).join('\n'), /without vrrp_rt_priority, no effect/);
  });
});
