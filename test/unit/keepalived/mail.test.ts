// keepalived mails a real server's UP and DOWN whenever it can mail at all
// (notification_email and smtp_server), unless smtp_alert says otherwise: a real
// server's own, else global smtp_alert_checker, else smtp_alert, else on
// (check_data.c). failoverd sends no email, so the import refuses each such server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importKeepalived } from '../../../src/keepalived/import.js';

const conf = (globals: string, server = ''): string => `global_defs {
   notification_email {
     ops@example.com
   }
   ${globals}
}
virtual_server 10.6.2.195 80 {
   lb_algo wlc
   lb_kind DR
   protocol TCP
   real_server 10.6.2.191 80 {
      ${server}
      TCP_CHECK {
         connect_timeout 3
      }
   }
}
`;

const lossy = (text: string): string[] =>
  importKeepalived(text, 'k.conf', { instance: 'director-b' }).lossy.map((f) => `${f.line}: ${f.message.slice(0, 60)}`);

describe('import-keepalived: the mail keepalived sends for real servers', () => {
  it('is refused at each real server when keepalived can mail and nothing turns it off', () => {
    assert.deepEqual(lossy(conf('smtp_server 127.0.0.1')), ['11: real_server 10.6.2.191 80: keepalived would mail this real s']);
  });
  it('is not there without smtp_server, or with no address to mail', () => {
    assert.deepEqual(lossy(conf('router_id A')), []);
    assert.deepEqual(lossy(conf('smtp_server 127.0.0.1').replace('     ops@example.com\n', '')), []);
  });
  it('is off by the real server, by smtp_alert_checker, or by smtp_alert', () => {
    assert.deepEqual(lossy(conf('smtp_server 127.0.0.1', 'smtp_alert off')), []);
    assert.deepEqual(lossy(conf('smtp_server 127.0.0.1\n   smtp_alert_checker off')), []);
    assert.deepEqual(lossy(conf('smtp_server 127.0.0.1\n   smtp_alert off')), []);
  });
  it('smtp_alert_checker wins over smtp_alert, as in keepalived', () => {
    const r = lossy(conf('smtp_server 127.0.0.1\n   smtp_alert on\n   smtp_alert_checker off'));
    assert.deepEqual(r, ['6: smtp_alert on: failoverd sends no email; keepalived would ma']);
  });
});
