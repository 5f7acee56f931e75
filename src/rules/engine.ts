/**
 * Evaluates the rules after every analysis, keeps each alert's lifecycle in SQLite, and writes
 * the notifications its transitions call for into the outbox, routed by severity and cluster.
 * The outbox (src/alerts/outbox.ts) delivers them.
 */
import { performance } from 'node:perf_hooks';
import type { Config, SinkConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { Store, StoredAlert } from '../store/store.js';
import type { ClusterAnalysis } from '../analysis/cluster-analysis.js';
import { evaluate, truthy, type Value } from './expression.js';
import { loadRules, type Rule } from './rule-file.js';
import { renderTemplate } from './template.js';
import { clusterValues, nodeValues, type NodeContext } from './variables.js';
import { step, type AlertState } from './lifecycle.js';
import { payloadFor, type AlertView } from '../alerts/payloads.js';

/** Figures added to every alert's annotations, rendered with their units, when known. */
const FIGURES = ['window', 'ist_budget', 'donor', 'gcache_size', 'recommended_size'] as const;

export class RuleEngine {
  private rules: Rule[];
  private readonly open = new Map<string, StoredAlert>();
  /** When each firing alert was last posted to each Alertmanager sink (memory only: a restart re-posts at once). */
  private readonly alertmanagerSentAt = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly log: Logger,
    rules: Rule[],
  ) {
    this.rules = rules;
    for (const a of store.openAlerts()) this.open.set(a.fingerprint, a);
  }

  /** Loads the rules folder; throws RuleFileError naming the file and line. */
  static fromConfig(config: Config, store: Store, log: Logger): RuleEngine {
    return new RuleEngine(config, store, log, loadRules(config.rules.dir));
  }

  get ruleList(): readonly Rule[] {
    return this.rules;
  }

  openAlerts(): StoredAlert[] {
    return [...this.open.values()];
  }

  /** Re-reads the rules folder (SIGHUP). An invalid set is refused and the old one kept. */
  reload(): { ok: true; rules: number } | { ok: false; error: string } {
    try {
      this.rules = loadRules(this.config.rules.dir);
      this.log.info('rules reloaded', { rules: this.rules.length });
      return { ok: true, rules: this.rules.length };
    } catch (err) {
      this.log.error('rules not reloaded: keeping the previous set', { error: (err as Error).message });
      return { ok: false, error: (err as Error).message };
    }
  }

  evaluate(analyses: readonly ClusterAnalysis[], contextOf: (cluster: string, node: string) => NodeContext, now: number): void {
    const seen = new Set<string>();
    const rules = this.rules;
    for (const a of analyses) this.evaluateCluster(rules, a, contextOf, now, seen);
    this.resolveUnseen(rules, analyses, seen, now);
  }

  /**
   * The same, yielding to the event loop every `sliceMs` between clusters, so that a fleet's
   * rules never hold up HTTP requests for longer than a slice.
   */
  async evaluateAsync(analyses: readonly ClusterAnalysis[], contextOf: (cluster: string, node: string) => NodeContext, now: number, sliceMs = 10): Promise<void> {
    const seen = new Set<string>();
    const rules = this.rules; // a reload (SIGHUP) in between takes effect next cycle
    let sliceStart = performance.now();
    for (const a of analyses) {
      this.evaluateCluster(rules, a, contextOf, now, seen);
      if (performance.now() - sliceStart >= sliceMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    this.resolveUnseen(rules, analyses, seen, now);
  }

  /** Every rule over one cluster and its nodes; each node's values are computed once for all rules. */
  private evaluateCluster(rules: readonly Rule[], a: ClusterAnalysis, contextOf: (cluster: string, node: string) => NodeContext, now: number, seen: Set<string>): void {
    const clusterInstance = { labels: { cluster: a.cluster }, values: clusterValues(a) };
    const nodeInstances = a.nodes.map((n) => ({ labels: { cluster: a.cluster, node: n.node }, values: nodeValues(a, n, contextOf(a.cluster, n.node)) }));
    for (const rule of rules) {
      for (const instance of rule.scope === 'cluster' ? [clusterInstance] : nodeInstances) {
        const labels = { alertname: rule.name, ...instance.labels, severity: rule.severity, ...rule.labels };
        const fingerprint = fingerprintOf(labels);
        seen.add(fingerprint);
        const active = truthy(evaluate(rule.condition, instance.values));
        this.advance(rule, fingerprint, labels, active ? annotationsFor(rule, instance.values) : null, now);
      }
    }
  }

  /**
   * Alerts whose rule, node or cluster is gone: nothing holds them any more. (An alert of a
   * configured cluster that was not analysed this cycle stays as it is.)
   */
  private resolveUnseen(rules: readonly Rule[], analyses: readonly ClusterAnalysis[], seen: ReadonlySet<string>, now: number): void {
    const analysed = new Set(analyses.map((a) => a.cluster));
    const configured = new Set(this.config.clusters.map((c) => c.name));
    for (const [fingerprint, alert] of this.open) {
      if (seen.has(fingerprint)) continue;
      const cluster = alert.labels.cluster ?? '';
      const ruleGone = !rules.some((r) => r.name === alert.rule);
      if (ruleGone || analysed.has(cluster) || !configured.has(cluster)) this.advance(null, fingerprint, alert.labels, null, now);
    }
  }

  private advance(rule: Rule | null, fingerprint: string, labels: Record<string, string>, annotations: Record<string, string> | null, now: number): void {
    const prev = this.open.get(fingerprint) ?? null;
    const prevState: AlertState | null = prev && { state: prev.state === 'firing' ? 'firing' : 'pending', activeAt: prev.activeAt, firedAt: prev.firedAt, lastNotifiedAt: prev.lastNotifiedAt };
    const { next, transition } = step(prevState, annotations !== null, now, rule?.forSeconds ?? 0, this.config.alerting.repeatIntervalSeconds);

    if (!next) {
      if (!prev) return;
      this.open.delete(fingerprint);
      this.alertmanagerSentAt.delete(fingerprint);
      if (transition === 'dropped') {
        this.store.deleteAlert(prev.id);
        return;
      }
      const resolved: StoredAlert = { ...prev, state: 'resolved', resolvedAt: now };
      this.store.transaction(() => {
        this.store.saveAlert(resolved);
        // A firing notification still waiting to be retried would re-open the alert at the
        // receiver after the resolution: it goes.
        this.store.expirePendingFiring(resolved.id, now);
        this.notify(resolved, 'resolved', `${resolved.id}/resolved`, now, () => true);
      });
      this.log.info('alert resolved', { alertname: prev.rule, ...prev.labels });
      return;
    }

    const alert: StoredAlert = {
      id: prev?.id ?? -1,
      fingerprint,
      rule: rule!.name,
      severity: rule!.severity,
      labels,
      annotations: annotations!,
      state: next.state,
      activeAt: next.activeAt,
      firedAt: next.firedAt,
      resolvedAt: null,
      lastNotifiedAt: next.lastNotifiedAt,
    };
    // Alertmanager resolves an alert it stops hearing about, so a firing one is re-posted.
    const alertmanagerDue =
      alert.state === 'firing' && (transition === 'firing' || now - (this.alertmanagerSentAt.get(fingerprint) ?? 0) >= this.config.alerting.alertmanagerResendSeconds * 1000);
    // The alert's new state and its notifications are committed together: a crash can lose
    // neither one without the other.
    this.store.transaction(() => {
      alert.id = this.store.saveAlert(prev ? alert : { ...alert, id: undefined });
      if (transition === 'firing') this.notify(alert, 'firing', `${alert.id}/firing`, now, () => true);
      // At most one re-post waits per alert and sink: the one queued already sets a fresh endsAt
      // when it goes out, so queueing more behind a slow Alertmanager would only pile up.
      else if (alertmanagerDue) this.notify(alert, 'firing', `${alert.id}/resend/${now}`, now, (s) => s.type === 'alertmanager' && !this.store.hasPendingFiring(alert.id, s.name));
      if (transition === 'repeat') this.notify(alert, 'firing', `${alert.id}/repeat/${now}`, now, (s) => s.type !== 'alertmanager');
    });
    if (alertmanagerDue) this.alertmanagerSentAt.set(fingerprint, now);
    this.open.set(fingerprint, alert);
    if (transition === 'firing') this.log.warn('alert firing', { alertname: alert.rule, ...alert.labels, summary: alert.annotations.summary });
  }

  private notify(alert: StoredAlert, kind: 'firing' | 'resolved', key: string, now: number, which: (s: SinkConfig) => boolean): void {
    for (const sink of this.config.alerting.sinks) {
      if (!which(sink) || !routes(sink, alert)) continue;
      const idempotencyKey = `gcache-advisor/${sink.name}/${key}`;
      const view: AlertView = {
        alertname: alert.rule,
        severity: alert.severity,
        labels: alert.labels,
        annotations: alert.annotations,
        status: kind,
        startsAt: alert.firedAt ?? alert.activeAt,
        endsAt: kind === 'resolved' ? alert.resolvedAt : null,
        fingerprint: alert.fingerprint,
        idempotencyKey,
      };
      this.store.enqueue({ sink: sink.name, alertId: alert.id, kind, idempotencyKey, payload: payloadFor(sink.type, view, sink.name), now });
    }
  }
}

/** Routing: a sink takes an alert when its severity and cluster are among the sink's (all when unset). */
export function routes(sink: Pick<SinkConfig, 'severities' | 'clusters'>, alert: Pick<StoredAlert, 'severity' | 'labels'>): boolean {
  if (sink.severities && !sink.severities.includes(alert.severity)) return false;
  if (sink.clusters && !sink.clusters.includes(alert.labels.cluster ?? '')) return false;
  return true;
}

export function fingerprintOf(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

function annotationsFor(rule: Rule, values: Record<string, Value>): Record<string, string> {
  const annotations: Record<string, string> = { summary: renderTemplate(rule.summary, values) };
  if (rule.description) annotations.description = renderTemplate(rule.description, values);
  for (const f of FIGURES) if (values[f] !== undefined && values[f] !== null) annotations[f] = renderTemplate(`{{ ${f} }}`, values);
  return annotations;
}
