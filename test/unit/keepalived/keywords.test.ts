// docs/keepalived.md has a row for every keepalived keyword that keepalived's own
// doc/samples use and that keepalived.conf(5) documents for vrrp_script,
// vrrp_sync_group, vrrp_instance, virtual_server(_group), real_server and the checkers
// (the list made by test/fixtures/keepalived/keywords/man-keywords.sh). A keyword
// without a row fails here, so the table keeps up with what operators write.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseKeepalived, type KaNode } from '../../../src/keepalived/parse.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const samples = `${root}test/fixtures/keepalived/samples/`;

/** Blocks whose lines are values (addresses, names, routes), not keywords. */
const VALUE_BLOCKS = new Set([
  'virtual_ipaddress',
  'virtual_ipaddress_excluded',
  'track_interface',
  'track_script',
  'track_file',
  'track_process',
  'track_bfd',
  'unicast_peer',
  'notification_email',
  'static_ipaddress',
  'static_routes',
  'static_rules',
  'virtual_routes',
  'virtual_rules',
  'group',
  'virtual_server_group',
  'linkbeat_interfaces',
]);

/** The keywords a file uses, every conditional branch included (`@host` prefixes taken off). */
function keywordsOf(text: string, file: string): Set<string> {
  const parsed = parseKeepalived(text.replace(/^(\s*)@\^?\S+\s+/gm, '$1'), file, { readFile: () => '', listDir: () => [] });
  const instances = new Set(parsed.nodes.filter((n) => n.keyword === 'vrrp_instance').map((n) => n.args[0]));
  const found = new Set<string>();
  const walk = (nodes: KaNode[], parent: string) => {
    for (const n of nodes) {
      // An instance named bare in a sync group (outside group { }) is a value.
      if (parent === 'vrrp_sync_group' && instances.has(n.keyword)) continue;
      found.add(n.keyword);
      if (n.children && !VALUE_BLOCKS.has(n.keyword)) walk(n.children, n.keyword);
    }
  };
  walk(parsed.nodes, '');
  return found;
}

/** The keywords in the first column of docs/keepalived.md's tables. */
function documented(): Set<string> {
  const rows = readFileSync(`${root}docs/keepalived.md`, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('| `'));
  return new Set(rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)));
}

describe('docs/keepalived.md: the keyword table', () => {
  const table = documented();

  it("has a row for every keyword of keepalived's doc/samples", () => {
    const files = readdirSync(samples).filter((f) => f.startsWith('keepalived.conf'));
    assert.ok(files.length >= 20, 'the samples are there');
    const missing = new Set<string>();
    for (const f of files)
      for (const k of keywordsOf(readFileSync(`${samples}${f}`, 'utf8'), f)) if (!table.has(k)) missing.add(`${k} (${f})`);
    assert.deepEqual([...missing], []);
  });

  it('has a row for every keyword of keepalived.conf(5) for instances, scripts, sync groups, virtual servers and checkers', () => {
    const list = readFileSync(`${root}test/fixtures/keepalived/keywords/man-keywords.txt`, 'utf8').split('\n').filter(Boolean);
    assert.ok(list.length > 150, 'the man page list is there');
    assert.deepEqual(
      list.filter((k) => !table.has(k)),
      [],
    );
  });

  it('the sample walk sees keywords at every depth, and not values', () => {
    const found = keywordsOf(
      'vrrp_instance VI_1 {\n virtual_ipaddress {\n  192.0.2.1/32\n }\n}\nvrrp_sync_group G {\n VI_1\n}\n' +
        '@other virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n  HTTP_GET {\n   url {\n    digest 00\n   }\n  }\n }\n}\n',
      'k.conf',
    );
    assert.deepEqual([...found].sort(), [
      'HTTP_GET',
      'digest',
      'real_server',
      'url',
      'virtual_ipaddress',
      'virtual_server',
      'vrrp_instance',
      'vrrp_sync_group',
    ]);
  });
});
