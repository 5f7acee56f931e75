/**
 * The configuration schema. It validates the YAML file and is also the source of the
 * TypeScript types, so the two can never disagree. Objects are strict: a misspelt key is an
 * error, not a silently ignored setting.
 */
import net from 'node:net';
import { z } from 'zod';
import cron from 'node-cron';
import { parseDuration, parseSize, quoteValue, UnitParseError } from '../units/parse.js';
import { hostPortProblem, parseHostPort } from './addresses.js';
import { orList, SINK_TYPES, sinkDefinition, sinkTypesWhere } from '../sinks/registry.js';

/** A duration string ("90s", "15m", "2h") turned into seconds. */
const duration = z.string({ error: 'expected a duration such as 90s, 15m or 2h' }).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as UnitParseError).message });
    return z.NEVER;
  }
});

/** About SQLite's own default page cache (2,000 KiB): see storage.cacheSize. */
const STORAGE_CACHE_DEFAULT = 2 * 1024 * 1024;

const positiveDuration = duration.refine((s) => s > 0, 'expected a duration greater than zero');

/** A size string ("128M", "2G") or plain byte count turned into bytes. */
export const size = z.union([z.string(), z.number()], { error: 'expected a size such as 128M or 2G' }).transform((value, ctx) => {
  try {
    return parseSize(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as UnitParseError).message });
    return z.NEVER;
  }
});

const port = z.number({ error: 'expected a port number' }).int().min(1, 'expected a port between 1 and 65535').max(65535, 'expected a port between 1 and 65535');

const name = z.string({ error: 'expected a name' }).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a name of letters, digits, ".", "_" or "-"');

const tls = z.strictObject({
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  rejectUnauthorized: z.boolean({ error: 'expected true or false' }).default(true),
  /** The certificate must name the host connected to (with rejectUnauthorized); false only for certificates that cannot. */
  verifyIdentity: z.boolean({ error: 'expected true or false' }).default(true),
});

/** Connection settings a cluster can give all its nodes, and a node can override. */
const connectionFields = {
  port: port.optional(),
  user: z.string().min(1, 'expected a user name').optional(),
  passwordEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .optional(),
  passwordFile: z.string().min(1, 'expected a file path').optional(),
  tls: tls.optional(),
};

const node = z.strictObject({
  name,
  host: z.string().min(1, 'expected a host name or address').optional(),
  socket: z.string().min(1, 'expected a socket path').optional(),
  ...connectionFields,
});

/** A seed "host:port", "host", "[v6]:port" or a bare IPv6 address; the port is filled in later. */
const seed = z.string({ error: 'expected host:port or host' }).superRefine((text, ctx) => {
  const problem = hostPortProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A nameserver for node's DNS resolver: an IP address with an optional port (setServers takes no names). */
const dnsServer = z.string({ error: 'expected a nameserver address such as 127.0.0.1:5353' }).superRefine((text, ctx) => {
  const problem = hostPortProblem(text);
  const parsed = problem ? null : parseHostPort(text, 53);
  if (!parsed || !net.isIP(parsed.host))
    ctx.addIssue({ code: 'custom', message: `expected a nameserver IP address with an optional port, such as 127.0.0.1:5353 or [::1]:53, got ${quoteValue(text)}` });
});

/**
 * Member discovery instead of a node list: `seeds` (follow wsrep_incoming_addresses) or `dns`
 * (A/AAAA or SRV records of a name, such as a Kubernetes headless service).
 */
const discovery = z
  .strictObject({
    seeds: z.array(seed, { error: 'expected a list of host:port seeds' }).min(1, 'expected at least one seed').optional(),
    dns: z
      .string({ error: 'expected a DNS name' })
      .regex(/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9.])?$/, 'expected a DNS name such as galera.db.svc.cluster.local')
      .optional(),
    /** The SQL port of members whose address carries none: A/AAAA records and seeds without a port. */
    port: port.optional(),
    /** How long a member must be absent from the membership (and DNS) before it is marked departed. */
    departAfter: positiveDuration.default(600),
    dnsServer: dnsServer.optional(),
  })
  .superRefine((d, ctx) => {
    if (d.seeds && d.dns) ctx.addIssue({ code: 'custom', path: ['dns'], message: 'expected seeds or dns, not both' });
    if (!d.seeds && !d.dns) ctx.addIssue({ code: 'custom', message: 'expected seeds (a list of host:port) or dns (a name to resolve)' });
    if (d.dnsServer && !d.dns) ctx.addIssue({ code: 'custom', path: ['dnsServer'], message: 'dnsServer applies to dns discovery only' });
  });

const cluster = z.strictObject({
  name,
  /** The replication window the cluster should keep: the sizing target. */
  targetWindow: positiveDuration.default(3600),
  /** How long a node may be planned to be away (maintenance, upgrades): the IST budget target. */
  maintenanceAllowance: positiveDuration.default(1800),
  connection: z.strictObject(connectionFields).default({}),
  /** Either a fixed list of nodes, or `discovery` (checked in the superRefine below). */
  nodes: z.array(node).min(1, 'expected at least one node').optional(),
  discovery: discovery.optional(),
});

const secretSource = {
  url: z.string().url('expected a URL').optional(),
  urlEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .optional(),
  urlFile: z.string().min(1, 'expected a file path').optional(),
};

const sink = z.strictObject({
  name,
  type: z.enum(SINK_TYPES, { error: `expected ${orList(SINK_TYPES)}` }),
  ...secretSource,
  /** Only for a type that signs (its definition's `signs`), such as a webhook: the key it signs the body with. */
  secretEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .optional(),
  secretFile: z.string().min(1, 'expected a file path').optional(),
  /** Routing: which severities and clusters this sink receives (all when omitted). */
  severities: z
    .array(z.enum(['critical', 'warning', 'info'], { error: 'expected critical, warning or info' }))
    .min(1)
    .optional(),
  clusters: z.array(z.string()).min(1).optional(),
  timeout: positiveDuration.default(10),
});

/** Far above any fleet; a typo such as 64000 would otherwise run the host out of file descriptors. */
const MAX_CONCURRENCY = 4096;

/** host:port whose host is loopback only: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackListen(listenAddress: string): boolean {
  const host = (/^\[?(.*?)\]?:\d+$/.exec(listenAddress)?.[1] ?? '').toLowerCase();
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

const listen = z
  .string({ error: 'expected host:port' })
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, such as 127.0.0.1:9106 or [::]:9106')
  // Five digits go up to 99999: the listen call would throw at start, past the config check.
  .refine((address) => Number(/:(\d+)$/.exec(address)?.[1]) <= 65535, 'expected a port between 0 and 65535');

export const configSchema = z
  .strictObject({
    clusters: z.array(cluster, { error: 'expected a list of clusters' }).min(1, 'expected at least one cluster'),
    sampling: z
      .strictObject({
        schedule: z
          .string({ error: 'expected a cron expression' })
          .refine((expr) => cron.validate(expr), 'expected a cron expression with 5 or 6 fields, such as "*/10 * * * * *"')
          .default('*/10 * * * * *'),
        /** Per-node query timeout: a slow node never holds up the others for longer than this. */
        timeout: positiveDuration.default(5),
        /** At most this many nodes are read at once in a cycle. */
        concurrency: z
          .number({ error: 'expected a whole number of nodes read at once, such as 64' })
          .int('expected a whole number of nodes read at once, such as 64')
          .min(1, 'expected at least 1 node read at once')
          .max(MAX_CONCURRENCY, `expected at most ${MAX_CONCURRENCY} nodes read at once`)
          .default(64),
      })
      .default({ schedule: '*/10 * * * * *', timeout: 5, concurrency: 64 }),
    horizons: z.strictObject({ short: positiveDuration.default(300), long: positiveDuration.default(86400) }).default({ short: 300, long: 86400 }),
    storage: z
      .strictObject({
        path: z.string().min(1, 'expected a file path').default('./data/gcache-advisor.db'),
        retention: z.strictObject({ raw: positiveDuration.default(2 * 86400), rollups: positiveDuration.default(90 * 86400) }).default({ raw: 2 * 86400, rollups: 90 * 86400 }),
        /**
         * SQLite's page cache for the daemon's connection. better-sqlite3 builds SQLite with 16 MB;
         * SQLite's own 2 MB costs the daemon's cycle next to nothing, since the pages it misses are
         * in the operating system's file cache (README, "A fleet").
         */
        cacheSize: size
          .refine((b) => b >= 64 * 1024, 'expected a page cache of at least 64K')
          .refine((b) => b <= 16 * 1024 ** 3, 'expected a page cache of at most 16G')
          .default(STORAGE_CACHE_DEFAULT),
      })
      .default({ path: './data/gcache-advisor.db', retention: { raw: 2 * 86400, rollups: 90 * 86400 }, cacheSize: STORAGE_CACHE_DEFAULT }),
    http: z
      .strictObject({
        listen: listen.default('127.0.0.1:9106'),
        /** Optional bearer token protecting /api, from an environment variable or a file. */
        tokenEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
          .optional(),
        tokenFile: z.string().min(1, 'expected a file path').optional(),
        /** Serve /api without a token on an address other than loopback: must be said explicitly. */
        allowUnauthenticated: z.boolean({ error: 'expected true or false' }).default(false),
      })
      .refine((h) => !(h.tokenEnv && h.tokenFile), 'expected tokenEnv or tokenFile, not both')
      .default({ listen: '127.0.0.1:9106', allowUnauthenticated: false }),
    log: z.strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).default({ level: 'info' }),
    /**
     * Several instances share a fleet: each takes the clusters whose name hashes to its index.
     * GCACHE_ADVISOR_SHARDING__INDEX lets a StatefulSet's pod ordinal set it.
     */
    sharding: z
      .strictObject({
        index: z.number({ error: 'expected a shard index (0, 1, ...)' }).int('expected a whole number').min(0, 'expected 0 or more'),
        count: z.number({ error: 'expected the number of shards' }).int('expected a whole number').min(1, 'expected 1 or more').max(1024, 'expected at most 1024 shards'),
      })
      .refine((s) => s.index < s.count, { message: 'expected index < count (shards are numbered from 0)', path: ['index'] })
      .default({ index: 0, count: 1 }),
    rules: z.strictObject({ dir: z.string().min(1, 'expected a folder path').default('./rules') }).default({ dir: './rules' }),
    alerting: z
      .strictObject({
        /** How often a still-firing alert is sent again to Slack and webhooks. */
        repeatInterval: positiveDuration.default(4 * 3600),
        /** How often a firing alert is re-posted to Alertmanager (which resolves alerts it stops hearing about). */
        alertmanagerResend: positiveDuration.default(60),
        /** How long an undelivered notification is retried. */
        expireAfter: positiveDuration.default(86400),
        sinks: z.array(sink).default([]),
      })
      .default({ repeatInterval: 4 * 3600, alertmanagerResend: 60, expireAfter: 86400, sinks: [] }),
  })
  .superRefine((config, ctx) => {
    const { listen: address, tokenEnv, tokenFile, allowUnauthenticated } = config.http;
    if (!isLoopbackListen(address) && !tokenEnv && !tokenFile && !allowUnauthenticated) {
      ctx.addIssue({
        code: 'custom',
        path: ['http', 'listen'],
        message:
          `${quoteValue(address).slice(1, -1)} is reachable from other machines and no API token is configured: set http.tokenEnv or http.tokenFile ` +
          '(GCACHE_ADVISOR_HTTP__TOKEN_FILE in a container), listen on 127.0.0.1, or set http.allowUnauthenticated: true to serve /api to anyone who can reach it',
      });
    }
    const sinkNames = new Set<string>();
    config.alerting.sinks.forEach((s, i) => {
      const at = ['alerting', 'sinks', i];
      if (sinkNames.has(s.name)) ctx.addIssue({ code: 'custom', path: [...at, 'name'], message: `duplicate sink name ${quoteValue(s.name)}` });
      sinkNames.add(s.name);
      const sources = [s.url, s.urlEnv, s.urlFile].filter(Boolean).length;
      if (sources !== 1) ctx.addIssue({ code: 'custom', path: at, message: 'expected exactly one of url, urlEnv or urlFile' });
      if ((s.secretEnv || s.secretFile) && !sinkDefinition(s.type).signs)
        ctx.addIssue({ code: 'custom', path: [...at, s.secretEnv ? 'secretEnv' : 'secretFile'], message: `only a ${orList(sinkTypesWhere('signs'))} sink signs its body` });
      if (s.secretEnv && s.secretFile) ctx.addIssue({ code: 'custom', path: at, message: 'expected secretEnv or secretFile, not both' });
      for (const c of s.clusters ?? []) {
        if (!config.clusters.some((x) => x.name === c)) ctx.addIssue({ code: 'custom', path: [...at, 'clusters'], message: `unknown cluster ${quoteValue(c)}` });
      }
    });
    const clusterNames = new Set<string>();
    config.clusters.forEach((c, ci) => {
      if (clusterNames.has(c.name)) ctx.addIssue({ code: 'custom', path: ['clusters', ci, 'name'], message: `duplicate cluster name ${quoteValue(c.name)}` });
      clusterNames.add(c.name);
      if (c.nodes && c.discovery) ctx.addIssue({ code: 'custom', path: ['clusters', ci, 'discovery'], message: 'expected nodes or discovery, not both' });
      if (!c.nodes && !c.discovery) ctx.addIssue({ code: 'custom', path: ['clusters', ci, 'nodes'], message: 'expected a list of nodes, or discovery' });
      if (c.discovery) {
        // Discovered members have no entry of their own: the cluster connection is all they get.
        const at = ['clusters', ci, 'connection'];
        if (!c.connection.user) ctx.addIssue({ code: 'custom', path: [...at, 'user'], message: 'expected a user in the cluster connection (discovered members use it)' });
        if (c.connection.passwordEnv && c.connection.passwordFile) ctx.addIssue({ code: 'custom', path: at, message: 'expected passwordEnv or passwordFile, not both' });
        if (!c.connection.passwordEnv && !c.connection.passwordFile)
          ctx.addIssue({ code: 'custom', path: [...at, 'passwordEnv'], message: 'expected passwordEnv or passwordFile in the cluster connection (discovered members use it)' });
      }
      const nodeNames = new Set<string>();
      (c.nodes ?? []).forEach((n, ni) => {
        const at = ['clusters', ci, 'nodes', ni];
        if (nodeNames.has(n.name)) ctx.addIssue({ code: 'custom', path: [...at, 'name'], message: `duplicate node name ${quoteValue(n.name)} in cluster ${quoteValue(c.name)}` });
        nodeNames.add(n.name);
        if (!n.host && !n.socket) ctx.addIssue({ code: 'custom', path: at, message: 'expected host (with optional port) or socket' });
        if (n.host && n.socket) ctx.addIssue({ code: 'custom', path: at, message: 'expected host or socket, not both' });
        if (!(n.user ?? c.connection.user)) ctx.addIssue({ code: 'custom', path: [...at, 'user'], message: 'expected a user, on the node or in the cluster connection' });
        const passwordEnv = n.passwordEnv ?? c.connection.passwordEnv;
        const passwordFile = n.passwordFile ?? c.connection.passwordFile;
        if (n.passwordEnv && n.passwordFile) ctx.addIssue({ code: 'custom', path: at, message: 'expected passwordEnv or passwordFile, not both' });
        if (!passwordEnv && !passwordFile)
          ctx.addIssue({ code: 'custom', path: [...at, 'passwordEnv'], message: 'expected passwordEnv or passwordFile, on the node or in the cluster connection' });
      });
    });
  });

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
