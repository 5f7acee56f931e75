/**
 * `gcache-advisor can-leave CLUSTER/NODE DURATION`: asks a running daemon whether the node can be
 * taken down for DURATION and still rejoin by IST (the maintenance endpoint), prints a short answer
 * and says it in its exit code, for a rolling-restart script or a Kubernetes preStop hook:
 * 0 safe, 1 risky, 2 anything that kept it from getting an answer. Reads nothing but the daemon's
 * answer (and the config, for the address and token, when one is given).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadHttpSettings } from '../config/load.js';
import { registerSecret, scrubSecrets } from '../log/logger.js';
import { parseDuration } from '../units/parse.js';
import { formatBytes, formatDuration } from '../units/format.js';
import { formatShare, SAFE_FIT_SHARE } from '../analysis/maintenance.js';
import type { MaintenanceView } from '../http/schemas.js';

/** http.listen's default in config/schema.ts (checked by test/unit/can-leave.test.ts). */
export const DEFAULT_DAEMON_URL = 'http://127.0.0.1:9106';
/** How long the daemon has to answer: a preStop hook must not hang the pod's termination. */
const ANSWER_TIMEOUT_MS = 10_000;

export const CAN_LEAVE_HELP = `Usage: gcache-advisor can-leave CLUSTER/NODE DURATION [options]

Asks a running 'gcache-advisor serve' whether NODE can be taken down for DURATION (such as
45m or 1h30m, at most 30d) and still rejoin by IST: whether, from past start points whose load
resembled now's, at least 99% of DURATION's worth of writes fitted in the node's IST budget,
with a donor and the node Synced now. Prints the budget, the donor, the share that fitted and
the gcache.size that would hold the p99.

Exit status: 0 safe, 1 risky (an SST is possible), 2 no answer (bad arguments, the daemon
unreachable or refusing the request).

Options:
      --url URL          the daemon's HTTP address (default: http.listen of the config
                         when one is given, else ${DEFAULT_DAEMON_URL})
      --token-env NAME   the environment variable holding the API's bearer token (default:
                         the config's http.tokenEnv/tokenFile when one is given)
  -c, --config FILE      the daemon's config file (or GCACHE_ADVISOR_CONFIG), for the
                         address and token (the nodes' passwords are not read)
      --json             print the daemon's answer as JSON
  -h, --help             show this help
`;

export interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processOutput: Output = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

/** What kept the command from an answer: printed with exit code 2. */
class NoAnswer extends Error {}

export async function canLeave(argv: string[], env: NodeJS.ProcessEnv = process.env, out: Output = processOutput): Promise<number> {
  try {
    const request = parseRequest(argv, env);
    if (request === 'help') {
      out.stdout(CAN_LEAVE_HELP);
      return 0;
    }
    const answer = await ask(request);
    out.stdout(request.json ? JSON.stringify(answer, null, 2) + '\n' : render(answer));
    return answer.verdict === 'safe' ? 0 : 1;
  } catch (err) {
    // Whatever went wrong is "no answer" (2), never "risky" (1): a script must be able to tell them apart.
    const message = err instanceof ConfigError ? err.message : `gcache-advisor can-leave: ${(err as Error).message}`;
    out.stderr(scrubSecrets(message) + '\n');
    return 2;
  }
}

interface Request {
  cluster: string;
  node: string;
  duration: string;
  base: URL;
  token: string | null;
  json: boolean;
}

function parseRequest(argv: string[], env: NodeJS.ProcessEnv): Request | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        'token-env': { type: 'string' },
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new NoAnswer(`${(err as Error).message}\n\n${CAN_LEAVE_HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 2)
    throw new NoAnswer(`expected CLUSTER/NODE and DURATION, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}\n\n${CAN_LEAVE_HELP}`);
  const [target, duration] = positionals as [string, string];
  const slash = target.indexOf('/');
  if (slash <= 0 || slash === target.length - 1) throw new NoAnswer(`CLUSTER/NODE: expected a cluster and a node name such as prod/db1, got ${JSON.stringify(target)}`);
  try {
    parseDuration(duration);
  } catch (err) {
    throw new NoAnswer(`DURATION: ${(err as Error).message}`);
  }

  const configFile = values.config ?? env.GCACHE_ADVISOR_CONFIG;
  const http = configFile ? loadHttpSettings(configFile, env) : null;
  const address = values.url ?? (http ? listenUrl(http.host, http.port) : DEFAULT_DAEMON_URL);
  let token = http?.token?.reveal() ?? null;
  if (values['token-env'] !== undefined) {
    const name = values['token-env'];
    token = env[name] || null;
    if (!token) throw new NoAnswer(`--token-env: the environment variable ${name} is not set or empty`);
  }
  registerSecret(token);
  return { cluster: target.slice(0, slash), node: target.slice(slash + 1), duration, base: daemonUrl(address), token, json: values.json === true };
}

/** The address to reach a daemon listening on host:port: a wildcard address is reached on loopback. */
export function listenUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

function daemonUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NoAnswer(`--url: expected an address such as http://127.0.0.1:9106, got ${JSON.stringify(text.slice(0, 100))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new NoAnswer(`--url: expected an http:// or https:// address, got ${url.protocol}`);
  // Credentials in a URL end up in process listings and shell history: the token has its own way in.
  if (url.username || url.password) throw new NoAnswer('--url: expected no user or password in the address; give the token with --token-env NAME');
  return url;
}

/** The URL as it is printed: without its query. */
function shown(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

async function ask(r: Request): Promise<MaintenanceView> {
  const url = new URL(r.base.href);
  // A daemon behind a path prefix (a reverse proxy) keeps it.
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v1/clusters/${encodeURIComponent(r.cluster)}/nodes/${encodeURIComponent(r.node)}/maintenance`;
  url.search = new URLSearchParams({ duration: r.duration }).toString();
  url.hash = '';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (r.token) headers.authorization = `Bearer ${r.token}`;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS), redirect: 'error' });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') throw new NoAnswer(`no answer from the daemon at ${shown(url)} within ${ANSWER_TIMEOUT_MS / 1000} s`);
    throw new NoAnswer(`cannot reach the daemon at ${shown(url)}: ${e.cause?.code ?? e.cause?.message ?? e.message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new NoAnswer(`the daemon at ${shown(url)} answered ${res.status} with something other than JSON: is it gcache-advisor?`);
  }
  if (!res.ok) {
    const message = typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : text.slice(0, 200);
    const hint = res.status === 401 ? (r.token ? ' (the token was refused)' : ' (give the token with --token-env NAME)') : '';
    throw new NoAnswer(`the daemon answered ${res.status}: ${message}${hint}`);
  }
  const answer = body as Partial<MaintenanceView>;
  if (answer.verdict !== 'safe' && answer.verdict !== 'risky')
    throw new NoAnswer(`the daemon at ${shown(url)} answered without a verdict: is it a gcache-advisor with the maintenance check?`);
  return answer as MaintenanceView;
}

const size = (bytes: number | null) => (bytes === null ? 'unknown' : formatBytes(bytes));

/** The answer in a few lines: the verdict, then the figures it came from (or, without them, why). */
export function render(a: MaintenanceView): string {
  const lines = [`${a.cluster}/${a.node}, down for ${formatDuration(a.durationSeconds)}: ${a.verdict === 'safe' ? 'SAFE, it can rejoin by IST' : 'RISKY, it may need an SST'}`];
  if (a.fitShare === null) lines.push(`  why          ${a.reason}`);
  lines.push(`  IST budget   ${size(a.budgetBytes)}${a.donor ? ` (donor ${a.donor})` : ' (no donor)'}`);
  if (a.fitShare !== null) {
    const needed = a.verdict === 'risky' ? `; ${formatShare(SAFE_FIT_SHARE)} needed` : '';
    lines.push(`  fitted       ${formatShare(a.fitShare)} of ${a.comparedStartPoints} comparable past start points (p99 of the writes ${size(a.p99Bytes)}${needed})`);
  }
  if (a.gcacheSizeForP99Bytes !== null) lines.push(`  gcache.size  ${formatBytes(a.gcacheSizeForP99Bytes)} would hold the p99`);
  return lines.join('\n') + '\n';
}
