/**
 * The pure parts of member discovery: addresses as Galera and the config write them, the
 * AUTO case, when an absent member counts as departed, and the config keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressKey, hostPortProblem, parseHostPort, parseIncomingAddresses } from '../../src/config/addresses.ts';
import { AUTO_MESSAGE, fromIncomingAddresses } from '../../src/sampler/discovery/incoming-source.ts';
import { Presence } from '../../src/sampler/discovery/presence.ts';
import { parseConfig, ConfigError, Secret, type NodeTarget } from '../../src/config/load.ts';

test('host:port, host alone, [v6]:port and a bare IPv6 address parse; the port defaults', () => {
  assert.deepEqual(parseHostPort('db1.example:3307', 3306), { host: 'db1.example', port: 3307 });
  assert.deepEqual(parseHostPort('db1', 3310), { host: 'db1', port: 3310 });
  assert.deepEqual(parseHostPort('10.0.0.5:3306', 1), { host: '10.0.0.5', port: 3306 });
  assert.deepEqual(parseHostPort('[::1]:3306', 1), { host: '::1', port: 3306 });
  assert.deepEqual(parseHostPort('[fd00::5]', 3306), { host: 'fd00::5', port: 3306 });
  assert.deepEqual(parseHostPort('fd00::5', 3306), { host: 'fd00::5', port: 3306 });
  assert.deepEqual(parseHostPort(' db2:3306 ', 1), { host: 'db2', port: 3306 });
  assert.equal(addressKey({ host: 'DB1.Example', port: 3306 }), 'db1.example:3306');
  assert.equal(addressKey({ host: '::1', port: 3306 }), '[::1]:3306');
});

test('bad addresses are refused with a message saying what was expected', () => {
  assert.match(hostPortProblem('')!, /empty/);
  assert.match(hostPortProblem('db1:')!, /port between 1 and 65535/);
  assert.match(hostPortProblem('db1:70000')!, /port between 1 and 65535.*"db1:70000"/);
  assert.match(hostPortProblem('db1:33o6')!, /port/);
  assert.match(hostPortProblem('[db1]:3306')!, /IPv6 address inside \[ \]/);
  assert.match(hostPortProblem('a:b:3306')!, /write an IPv6 address as \[::1\]:3306/);
  assert.match(hostPortProblem('db 1:3306')!, /expected host:port/);
  assert.equal(hostPortProblem('[::1]:3306'), null);
  assert.throws(() => parseHostPort('db1:0', 3306), /port between 1 and 65535/);
});

test('wsrep_incoming_addresses: members in order, IPv6 in brackets, duplicates and blanks dropped', () => {
  assert.deepEqual(parseIncomingAddresses('10.0.0.1:3306,10.0.0.2:3307,[fd00::3]:3306', 3306), {
    members: [
      { host: '10.0.0.1', port: 3306 },
      { host: '10.0.0.2', port: 3307 },
      { host: 'fd00::3', port: 3306 },
    ],
    auto: 0,
    invalid: [],
  });
  assert.deepEqual(parseIncomingAddresses(' 10.0.0.1:3306 , ,10.0.0.1:3306,db3', 3311).members, [
    { host: '10.0.0.1', port: 3306 },
    { host: 'db3', port: 3311 },
  ]);
  assert.deepEqual(parseIncomingAddresses('', 3306), { members: [], auto: 0, invalid: [] });
  assert.deepEqual(parseIncomingAddresses('10.0.0.1:3306,not an address', 3306).invalid, ['not an address']);
});

test('AUTO entries name nobody: the listing is incomplete and says wsrep_node_incoming_address must be set', () => {
  assert.deepEqual(parseIncomingAddresses('AUTO,AUTO,AUTO', 3306), { members: [], auto: 3, invalid: [] });
  const all = fromIncomingAddresses('AUTO,AUTO,AUTO', 3306);
  assert.deepEqual(all.members, []);
  assert.equal(all.complete, false);
  assert.deepEqual(all.problems, [AUTO_MESSAGE]);
  assert.match(AUTO_MESSAGE, /wsrep_node_incoming_address/);
  assert.match(AUTO_MESSAGE, /every node/);

  const mixed = fromIncomingAddresses('10.0.0.1:3306,AUTO', 3306);
  assert.deepEqual(mixed.members, [{ host: '10.0.0.1', port: 3306 }]);
  assert.equal(mixed.complete, false, 'the AUTO member could be any known one');

  const fine = fromIncomingAddresses('10.0.0.1:3306,[::1]:3307', 3306);
  assert.equal(fine.complete, true);
  assert.deepEqual(fine.problems, []);
  assert.equal(fine.distinctServers, true);

  const bad = fromIncomingAddresses('10.0.0.1:3306,x y', 3306);
  assert.equal(bad.complete, false);
  assert.match(bad.problems[0]!, /not host:port: "x y"/);
});

function node(name: string): NodeTarget {
  return { cluster: 'c', name, host: '10.0.0.1', port: 3306, user: 'u', password: new Secret('pw-unit'), discovered: true };
}

test('a member is departed once absent from complete listings for departAfter, and back when listed again', () => {
  const presence = new Presence(600_000);
  const nodes = [node('db1'), node('db2')];
  let t = 1_000_000;
  presence.observe(nodes, new Set(['db1', 'db2']), true, t);
  assert.deepEqual(
    nodes.map((n) => n.departed),
    [undefined, undefined],
  );

  t += 10_000;
  let changes = presence.observe(nodes, new Set(['db1']), true, t);
  assert.equal(presence.absentFor('db2', t), 0);
  assert.deepEqual(changes, { departed: [], returned: [] });

  t += 599_999;
  presence.observe(nodes, new Set(['db1']), true, t);
  assert.equal(nodes[1]!.departed, undefined, 'still within the grace period');

  t += 1;
  changes = presence.observe(nodes, new Set(['db1']), true, t);
  assert.equal(nodes[1]!.departed, true);
  assert.deepEqual(
    changes.departed.map((n) => n.name),
    ['db2'],
  );
  assert.equal(nodes[0]!.departed, undefined);

  // Reported once, not every cycle.
  assert.deepEqual(presence.observe(nodes, new Set(['db1']), true, t + 10_000).departed, []);

  changes = presence.observe(nodes, new Set(['db1', 'db2']), true, t + 20_000);
  assert.equal('departed' in nodes[1]!, false, 'the flag is removed when the member returns');
  assert.deepEqual(
    changes.returned.map((n) => n.name),
    ['db2'],
  );
  assert.equal(presence.absentFor('db2', t + 20_000), null);
});

test('absence counts from the first complete listing that lacked the member, not from when it was last seen', () => {
  const presence = new Presence(60_000);
  const nodes = [node('db1'), node('db2')];
  presence.observe(nodes, new Set(['db1', 'db2']), true, 0);
  // An hour in which nothing could be listed (observe not called), then db2 is missing.
  presence.observe(nodes, new Set(['db1']), true, 3_600_000);
  assert.equal(nodes[1]!.departed, undefined, 'an outage of the listing is not an absence');
  presence.observe(nodes, new Set(['db1']), true, 3_660_000);
  assert.equal(nodes[1]!.departed, true);
});

test('an incomplete listing brings members back but never starts or advances an absence', () => {
  const presence = new Presence(60_000);
  const nodes = [node('db1'), node('db2')];
  presence.observe(nodes, new Set(['db1']), false, 0);
  presence.observe(nodes, new Set(['db1']), false, 120_000);
  assert.equal(nodes[1]!.departed, undefined);
  assert.equal(presence.absentFor('db2', 120_000), null);

  presence.observe(nodes, new Set(['db1']), true, 120_000);
  presence.observe(nodes, new Set(['db1']), true, 180_000);
  assert.equal(nodes[1]!.departed, true);
  presence.observe(nodes, new Set(['db1', 'db2']), false, 190_000);
  assert.equal(nodes[1]!.departed, undefined);
});

const env = { GA_PW: 'hunter2-secret' };
const cluster = (body: string) => `clusters:\n  - name: prod\n    connection: { user: advisor, passwordEnv: GA_PW }\n${body}`;
const rejects = (yaml: string, pattern: RegExp) =>
  assert.throws(
    () => parseConfig(yaml, 'test.yaml', env),
    (err: Error) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
      assert.match(err.message, pattern);
      assert.doesNotMatch(err.message, /hunter2/);
      assert.equal(err.message.split('\n').length, 1, 'one line');
      return true;
    },
  );

test('config: seeds discovery resolves to addresses with ports, an empty node list and the cluster connection', () => {
  const c = parseConfig(
    `clusters:\n  - name: prod\n    connection: { user: advisor, passwordEnv: GA_PW, port: 3307 }\n    discovery: { seeds: ['db1', 'db2:3308', '[fd00::1]:3309'] }\n`,
    'test.yaml',
    env,
  ).clusters[0]!;
  assert.deepEqual(c.nodes, []);
  const d = c.discovery!;
  assert.ok('seeds' in d);
  assert.deepEqual(d.seeds, [
    { host: 'db1', port: 3307 },
    { host: 'db2', port: 3308 },
    { host: 'fd00::1', port: 3309 },
  ]);
  assert.equal(d.departAfterSeconds, 600);
  assert.equal(d.connection.user, 'advisor');
  assert.equal(d.connection.port, 3307);
  assert.equal(d.connection.password.reveal(), 'hunter2-secret');
});

test('config: dns discovery with its port, grace period and nameserver; the port defaults to connection.port, then 3306', () => {
  const d = parseConfig(cluster('    discovery: { dns: _mysql._tcp.galera.db.svc.cluster.local, port: 3310, departAfter: 3s, dnsServer: "127.0.0.1:5353" }\n'), 'test.yaml', env)
    .clusters[0]!.discovery!;
  assert.deepEqual(
    { ...d, connection: undefined },
    { dns: '_mysql._tcp.galera.db.svc.cluster.local', port: 3310, dnsServer: '127.0.0.1:5353', departAfterSeconds: 3, connection: undefined },
  );
  const plain = parseConfig(cluster('    discovery: { dns: galera.db.svc.cluster.local }\n'), 'test.yaml', env).clusters[0]!.discovery!;
  assert.ok('dns' in plain);
  assert.equal(plain.port, 3306);
  assert.equal(plain.dnsServer, null);
  const fromConnection = parseConfig(
    `clusters:\n  - name: prod\n    connection: { user: advisor, passwordEnv: GA_PW, port: 3320 }\n    discovery: { dns: galera }\n`,
    'test.yaml',
    env,
  ).clusters[0]!.discovery!;
  assert.ok('dns' in fromConnection);
  assert.equal(fromConnection.port, 3320);
  const ipv6Server = parseConfig(cluster('    discovery: { dns: galera, dnsServer: "[::1]:53" }\n'), 'test.yaml', env).clusters[0]!.discovery!;
  assert.ok('dns' in ipv6Server && ipv6Server.dnsServer === '[::1]:53');
});

test('config: a fixed cluster has discovery null', () => {
  const c = parseConfig(cluster('    nodes: [{ name: db1, host: 10.0.0.1 }]\n'), 'test.yaml', env).clusters[0]!;
  assert.equal(c.discovery, null);
  assert.equal(c.nodes.length, 1);
});

test('config: nodes and discovery together, or neither, are refused naming the key', () => {
  rejects(cluster('    nodes: [{ name: db1, host: 10.0.0.1 }]\n    discovery: { seeds: [db1] }\n'), /clusters\[0\]\.discovery: expected nodes or discovery, not both/);
  rejects(cluster(''), /clusters\[0\]\.nodes: expected a list of nodes, or discovery/);
});

test('config: bad discovery settings name the key and what was expected', () => {
  rejects(cluster('    discovery: {}\n'), /clusters\[0\]\.discovery: expected seeds \(a list of host:port\) or dns/);
  rejects(cluster('    discovery: { seeds: [db1], dns: galera }\n'), /clusters\[0\]\.discovery\.dns: expected seeds or dns, not both/);
  rejects(cluster('    discovery: { seeds: [] }\n'), /clusters\[0\]\.discovery\.seeds: expected at least one seed/);
  rejects(cluster('    discovery: { seeds: ["db1:99999"] }\n'), /clusters\[0\]\.discovery\.seeds\[0\]: expected a port between 1 and 65535/);
  rejects(cluster('    discovery: { seeds: ["a:b:3306"] }\n'), /clusters\[0\]\.discovery\.seeds\[0\]: .*\[::1\]:3306/);
  rejects(cluster('    discovery: { seeds: [db1], dnsServer: 127.0.0.1 }\n'), /clusters\[0\]\.discovery\.dnsServer: dnsServer applies to dns discovery only/);
  rejects(cluster('    discovery: { dns: galera, dnsServer: ns1.example }\n'), /clusters\[0\]\.discovery\.dnsServer: expected a nameserver IP address/);
  rejects(cluster('    discovery: { dns: "gal era" }\n'), /clusters\[0\]\.discovery\.dns: expected a DNS name/);
  rejects(cluster('    discovery: { dns: galera, departAfter: 0s }\n'), /clusters\[0\]\.discovery\.departAfter: expected a duration greater than zero/);
  rejects(cluster('    discovery: { dns: galera, departAfter: soon }\n'), /clusters\[0\]\.discovery\.departAfter: expected a duration/);
  rejects(cluster('    discovery: { dns: galera, port: 0 }\n'), /clusters\[0\]\.discovery\.port: expected a port between 1 and 65535/);
  rejects(cluster('    discovery: { dns: galera, nodes: [] }\n'), /clusters\[0\]\.discovery\.nodes: unknown key/);
});

test('config: discovery needs the user and password in the cluster connection, where discovered members get them', () => {
  rejects('clusters: [{ name: c, connection: { passwordEnv: GA_PW }, discovery: { dns: galera } }]', /clusters\[0\]\.connection\.user: expected a user in the cluster connection/);
  rejects(
    'clusters: [{ name: c, connection: { user: u }, discovery: { dns: galera } }]',
    /clusters\[0\]\.connection\.passwordEnv: expected passwordEnv or passwordFile in the cluster connection/,
  );
  rejects('clusters: [{ name: c, discovery: { dns: galera } }]', /clusters\[0\]\.connection\.user/);
});

test('config: discovery keys can be set from the environment', () => {
  const c = parseConfig(cluster('    discovery: { dns: galera }\n'), 'test.yaml', {
    ...env,
    GCACHE_ADVISOR_CLUSTERS__0__DISCOVERY__DNS_SERVER: '127.0.0.1:5353',
    GCACHE_ADVISOR_CLUSTERS__0__DISCOVERY__DEPART_AFTER: '5m',
  }).clusters[0]!;
  assert.ok(c.discovery && 'dns' in c.discovery);
  assert.equal(c.discovery.dnsServer, '127.0.0.1:5353');
  assert.equal(c.discovery.departAfterSeconds, 300);
});
