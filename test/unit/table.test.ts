// The one plain-text table formatter (status output, the lab's summary).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTable } from '../../src/table.js';

test('columns as wide as their widest cell, two spaces apart, no trailing spaces', () => {
  assert.equal(
    formatTable(
      ['NAME', 'STATE', 'REASON'],
      [
        ['web', 'MASTER', ''],
        ['db-primary', 'BACKUP', 'priority 100 < 150'],
      ],
    ),
    ['NAME        STATE   REASON', 'web         MASTER', 'db-primary  BACKUP  priority 100 < 150'].join('\n'),
  );
});

test('with a rule under the header; a short row leaves its missing cells empty', () => {
  assert.equal(
    formatTable(['part', 'value'], [['spread'], ['failover', '1.20 s']], { rule: true }),
    ['part      value', '--------  ------', 'spread', 'failover  1.20 s'].join('\n'),
  );
});
