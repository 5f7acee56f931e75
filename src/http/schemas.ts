/**
 * The API's response shapes shared by several routes, as TypeBox schemas. fastify serializes
 * every answer with its route's response schema (a field not declared here never leaves the
 * server), @fastify/swagger publishes them in /api/v1/openapi.json, and the handlers' types are
 * derived from them. Here: the shapes views.ts builds and those several routes share; a route's
 * own envelope lives in its module.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { NodeAnalysis } from '../analysis/cluster-analysis.js';
import type { Recommendation } from '../analysis/sizing.js';
import type { Trend } from '../analysis/trend.js';

/**
 * `T | null`, written as a JSON Schema type list rather than anyOf: the serializer then checks
 * for null instead of validating the value against each branch, and @fastify/swagger turns it
 * into OpenAPI 3.0's `nullable: true`.
 */
export function Nullable<T extends TSchema & { type: string }>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

export function StringEnum<const V extends readonly string[]>(values: V, options: { description?: string } = {}) {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options });
}

/** Label sets and annotations: any names, string values. */
export const StringMap = Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' } });

/** Free-form objects (an event's details, the OpenAPI document), passed through as they are. */
export const JsonObject = Type.Unsafe<object>({ type: 'object', additionalProperties: true });

const Num = (description?: string) => Type.Number(description ? { description } : {});
const NullableNumber = (description?: string) => Nullable(Num(description));
const NullableString = (description?: string) => Nullable(Type.String(description ? { description } : {}));
export const Time = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) });
export const NullableTime = (description?: string) => Nullable(Time(description));

// --- errors ----------------------------------------------------------------------------------

const ERROR_DESCRIPTIONS = {
  400: 'A bad parameter: the message starts with its name',
  401: 'The bearer token is missing or wrong (only when the API has one)',
  404: 'An unknown cluster or node',
  500: 'An internal error; the daemon logs the cause',
  503: 'No analysis yet: the first sampling cycle has not run',
} as const;
type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

const errorBody = (status: ErrorStatus) =>
  Type.Object({ error: Type.String({ description: 'the HTTP status text' }), message: Type.String() }, { description: ERROR_DESCRIPTIONS[status] });

/**
 * The error answers of an API route: the ones given, plus the 401 of the token hook (it guards
 * every route of the API scope) and the 500 of the error handler.
 */
export function apiErrors<const S extends Exclude<ErrorStatus, 401 | 500>>(...statuses: S[]) {
  const all = [...statuses, 401, 500] as Array<S | 401 | 500>;
  return Object.fromEntries(all.map((s) => [s, errorBody(s)])) as Record<S | 401 | 500, ReturnType<typeof errorBody>>;
}

// --- nodes -----------------------------------------------------------------------------------

const RingState = StringEnum(['full', 'filling', 'empty', 'unknown'], {
  description: 'full: cached_downto advances as write-sets come in; filling: it stays put; empty: the gcache holds nothing',
});

/** A node in a list: its identity and latest headline figures (views.ts nodeSummary). */
export const NodeSummary = Type.Object({
  name: Type.String(),
  discovered: Type.Boolean({ description: 'found by member discovery rather than listed in the config' }),
  departed: Type.Boolean({ description: 'absent from the membership for longer than discovery.departAfter' }),
  reachable: Type.Boolean({ description: 'sampled by the newest cycle' }),
  localState: NullableString('wsrep_local_state_comment'),
  clusterStatus: NullableString('wsrep_cluster_status'),
  gcacheSizeBytes: NullableNumber(),
  ring: RingState,
  measuredSeconds: NullableNumber('the measured replication window, once the ring has wrapped'),
  effectiveWindowSeconds: NullableNumber('measured when the ring is full, else the best estimate'),
  istBudgetSeconds: NullableNumber('how long the node may be away and still rejoin by IST, at the current rate'),
  donor: NullableString('the donor that budget counts on'),
  computedAt: NullableTime('when the analysis was computed; null before the first'),
});
export type NodeSummary = Static<typeof NodeSummary>;

const ShortLong = (description: string) => Type.Object({ short: NullableNumber(description), long: NullableNumber(description) });

/** A node's window, IST budget and write rates (views.ts windowView). */
export const WindowView = Type.Object(
  {
    cluster: Type.String(),
    node: Type.String(),
    sampledAt: NullableTime('when the figures were computed'),
    ring: RingState,
    summary: Type.String(),
    measuredSeconds: NullableNumber(),
    oldestCachedSeqno: NullableNumber(),
    oldestCachedAt: NullableTime('when the oldest cached write-set was committed'),
    oldestCachedAgeIsLowerBound: Type.Boolean({ description: 'true when the oldest write-set predates the stored history' }),
    estimatedSeconds: Type.Object({
      short: NullableNumber('best estimate at the short-horizon rate'),
      long: NullableNumber('best estimate at the long-horizon rate'),
      classicShort: NullableNumber('gcache.size / short-horizon rate'),
      classicLong: NullableNumber('gcache.size / long-horizon rate'),
    }),
    istBudgetSeconds: Type.Object({ current: NullableNumber(), pessimistic: NullableNumber() }),
    istBudgetBytes: NullableNumber(),
    istBudgetReason: NullableString(),
    donor: NullableString(),
    gcacheSizeBytes: NullableNumber(),
    writeRateBytesPerSecond: ShortLong('counted bytes per second'),
    writeSetsPerSecond: ShortLong('write-sets per second'),
    overheadFactor: NullableNumber('ring bytes per counted byte'),
  },
  { description: "The node's window, IST budget and write rates; null figures before its first analysis" },
);
export type WindowView = Static<typeof WindowView>;

const Rate = Type.Object({ bytesPerSecond: Num(), writeSetsPerSecond: Num(), coveredSeconds: Num('seconds of history the rate is based on') });
const RateDistribution = Type.Object({ p50: Num(), p95: Num(), p99: Num(), peak: Num(), minutes: Num('per-minute rates counted') });
const WindowEstimate = Type.Object({
  classicSeconds: NullableNumber('gcache.size / rate'),
  overheadCorrectedSeconds: NullableNumber('gcache.size / (rate × overhead factor)'),
  calibratedSeconds: NullableNumber('bytes a full ring was measured to hold / rate'),
  bestSeconds: NullableNumber(),
});
const IstBudget = Type.Object({
  needsSeqno: Num('the seqno the node would need first on rejoin'),
  safetyGapSeqnos: Num("Galera's safety gap at the current cached range"),
  seconds: NullableNumber(),
  bytes: NullableNumber('counted bytes the cluster may write before IST is lost'),
  donor: NullableString(),
  reason: Type.String(),
});
export const Calibration = Type.Object({
  shrink: Num('the factor the 5th percentile is multiplied by, from the backtest (at most 1)'),
  coverage: NullableNumber('share of the backtest start points at which the published safe figure was not optimistic'),
  resolved: Num('start points the backtest replayed'),
  at: Num('when the backtest ran (Unix ms; 0 before the first one)'),
});
const ForecastSummary = Type.Object({
  likelySeconds: Num(),
  safeSeconds: Num(),
  rawSafeSeconds: Num('the 5th percentile before calibration'),
  neighbours: Num('past start points the distribution came from'),
  conditioningSeconds: Num('the window over which the load now was compared with the past'),
  calibration: Calibration,
});
export const RejoinCountdown = Type.Object({
  awaySince: Num('when the node was last seen Synced (Unix ms)'),
  awaySeconds: Num(),
  lastCommitted: Num('S: its last committed seqno when last seen Synced'),
  needsSeqno: Num('S+1'),
  remainingBytes: NullableNumber('counted bytes the cluster can still write before IST is lost'),
  remainingSeconds: Type.Object({ likely: NullableNumber(), safe: NullableNumber() }),
  donor: NullableString(),
  verdict: StringEnum(['ist-possible', 'sst-likely', 'ist-lost', 'unknown']),
  reason: Type.String(),
});
const RejoinRecord = Type.Object({
  at: Num('when the node was back Synced (Unix ms)'),
  awaySeconds: Num(),
  lastCommitted: Num('S: its last committed seqno when it left'),
  method: StringEnum(['ist', 'sst'], { description: 'how it rejoined, from its gcache once back' }),
  expected: StringEnum(['ist-possible', 'sst-likely', 'ist-lost', 'unknown'], { description: "the countdown's last verdict while it was away" }),
  remainingBytes: NullableNumber("the countdown's last remaining bytes"),
});
const HistoryDrop = Type.Object({
  kind: StringEnum(['page_store_purge', 'gcache_reset']),
  fromSeqno: NullableNumber(),
  toSeqno: NullableNumber(),
  droppedBytes: NullableNumber(),
  windowBeforeSeconds: NullableNumber(),
  windowAfterSeconds: NullableNumber(),
  reason: Type.String(),
});

/** Everything computed for one node, as the analysis holds it (times in Unix ms). */
export const NodeAnalysisView = Type.Object({
  cluster: Type.String(),
  node: Type.String(),
  computedAt: Num('Unix ms'),
  reachable: Type.Boolean(),
  localState: NullableString(),
  clusterStatus: NullableString(),
  gcacheSizeBytes: NullableNumber(),
  gcacheRecover: Nullable(Type.Boolean()),
  rates: Type.Object({ short: Nullable(Rate), long: Nullable(Rate), distribution: Nullable(RateDistribution) }),
  averageWriteSetBytes: NullableNumber(),
  overheadFactor: Num(),
  measured: Type.Object({
    ring: RingState,
    oldestSeqno: NullableNumber(),
    oldestCommittedAt: NullableNumber('Unix ms'),
    ageSeconds: NullableNumber(),
    lowerBound: Type.Boolean(),
    measuredSeconds: NullableNumber(),
    contentBytes: NullableNumber(),
    summary: Type.String(),
  }),
  estimated: Type.Object({ short: WindowEstimate, long: WindowEstimate }),
  istBudget: Type.Object({
    current: Nullable(IstBudget),
    pessimistic: Nullable(IstBudget),
    pessimisticBytesPerSecond: NullableNumber(),
    likely: Nullable(IstBudget),
    safe: Nullable(IstBudget),
    forecast: Nullable(ForecastSummary),
  }),
  rejoin: Nullable(RejoinCountdown),
  lastRejoin: Nullable(RejoinRecord),
  historyDrop: Nullable(HistoryDrop),
  effectiveWindowSeconds: NullableNumber(),
});

// --- clusters --------------------------------------------------------------------------------

const SizingLine = Type.Object({ rateName: Type.String(), bytesPerSecond: Num(), neededBytes: Num(), recommendedBytes: Num() });

/** The gcache.size recommendation, with its arithmetic and warnings. */
export const RecommendationView = Type.Object({
  targetWindowSeconds: Num(),
  recommendedGcacheSizeBytes: NullableNumber(),
  atP95: Nullable(SizingLine),
  atP99: Nullable(SizingLine),
  arithmetic: Type.Object({
    formula: Type.String(),
    ringBytesPerCountedByte: Num(),
    ringFactorSource: Type.String(),
    headroom: Num(),
    safetyGapFactor: Num(),
    text: Type.Array(Type.String()),
  }),
  currentGcacheSizeBytes: NullableNumber(),
  warnings: Type.Array(Type.String()),
});

export const TrendView = Type.Object({
  days: Num('days of history the trend is based on'),
  slopeBytesPerSecondPerDay: NullableNumber(),
  crossesTargetAt: NullableNumber('Unix ms when the window is expected to fall below the target'),
  summary: Type.String(),
});

// --- alerts and events -----------------------------------------------------------------------

/** An alert, open or past (views.ts alertView). */
export const AlertView = Type.Object({
  alertname: Type.String({ description: 'the rule that raised it' }),
  state: StringEnum(['pending', 'firing', 'resolved']),
  severity: Type.String(),
  labels: StringMap,
  annotations: StringMap,
  activeAt: Time(),
  firedAt: NullableTime(),
  resolvedAt: NullableTime(),
});
export type AlertView = Static<typeof AlertView>;

/** A recorded event: a counter epoch, a page-store purge, a gcache reset (views.ts eventView). */
export const EventView = Type.Object({ cluster: Type.String(), node: Type.String(), at: Time(), kind: Type.String(), detail: JsonObject });
export type EventView = Static<typeof EventView>;

/** One step of a node's history: averages over the step, which starts at `at` (views.ts historyPointView). */
export const HistoryPoint = Type.Object({
  at: Time(),
  measuredSeconds: NullableNumber(),
  estimatedShortSeconds: NullableNumber(),
  estimatedLongSeconds: NullableNumber(),
  istBudgetCurrentSeconds: NullableNumber(),
  istBudgetPessimisticSeconds: NullableNumber(),
  writeRateShortBytesPerSecond: NullableNumber(),
  writeRateLongBytesPerSecond: NullableNumber(),
  writeSetsShortPerSecond: NullableNumber(),
  samples: Num('analyses averaged in the step'),
});
export type HistoryPoint = Static<typeof HistoryPoint>;

// --- the analysis types, checked against the schemas -------------------------------------------

/**
 * True only when A and B are the same type. The analysis' own types are served as they are, so a
 * field added there and not to its schema would be dropped by the serializer without a word:
 * this makes it a type error instead.
 */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
export type SchemasMatchAnalysis = [
  Assert<Same<Static<typeof NodeAnalysisView>, NodeAnalysis>>,
  Assert<Same<Static<typeof RecommendationView>, Recommendation>>,
  Assert<Same<Static<typeof TrendView>, Trend>>,
];

// --- forecast: the window view with the forecast, the rejoin countdown, the maintenance check ---

/**
 * The window view (views.ts windowView) as served: WindowView with the IST budget also in time by
 * the forecast (likely, safe), the calibration's coverage, and the rejoin countdown.
 */
export const WindowViewWithForecast = Type.Object(
  {
    ...WindowView.properties,
    istBudgetSeconds: Type.Object({
      current: NullableNumber('at the short-horizon rate'),
      pessimistic: NullableNumber('at the larger of that and the p95 of the long horizon'),
      likely: NullableNumber("by the forecast's median: the figure to expect"),
      safe: NullableNumber("by the forecast's calibrated 5th percentile: the figure to plan with"),
    }),
    istForecastCoverage: NullableNumber('share of the backtest start points at which the published safe figure was not optimistic; null before a backtest'),
    rejoin: Nullable(RejoinCountdown),
  },
  { description: WindowView.description },
);
export type WindowViewWithForecast = Static<typeof WindowViewWithForecast>;

/** A node's rejoin countdown while it is away, and how it came back the last time (views.ts rejoinView). */
export const RejoinView = Type.Object(
  {
    cluster: Type.String(),
    node: Type.String(),
    computedAt: NullableTime('when the analysis was computed; null before the first'),
    status: StringEnum(['synced', 'away', 'unknown'], { description: 'synced: sampled and Synced now; away: not Synced or not answering; unknown: not analysed yet' }),
    rejoin: NodeAnalysisView.properties.rejoin,
    lastRejoin: NodeAnalysisView.properties.lastRejoin,
  },
  { description: 'The countdown to the loss of IST while the node is away (null while it is Synced), and its last return' },
);
export type RejoinView = Static<typeof RejoinView>;

/** The maintenance check of analysis/maintenance.ts, as it is computed. */
const MaintenanceCheckSchema = Type.Object({
  durationSeconds: Num('how long the node would be away'),
  budgetBytes: NullableNumber('counted bytes the cluster may write before the node loses IST'),
  donor: NullableString('the donor that budget counts on'),
  fitShare: NullableNumber('share of the comparable past start points from which that duration of writes fitted in the budget'),
  comparedStartPoints: Num('past start points whose load resembled now'),
  p50Bytes: NullableNumber('their median writes over the duration'),
  p99Bytes: NullableNumber('their 99th percentile'),
  verdict: StringEnum(['safe', 'risky'], { description: 'safe: a donor, the node Synced now, and at least 99% of those writes fitted' }),
  reason: Type.String(),
  gcacheSizeForP99Bytes: NullableNumber("the gcache.size at which the p99 would fit, rounded up to a MiB (the donor's ring scaled)"),
});

/** May the node be away for `duration` and come back by IST (views.ts maintenanceView). */
export const MaintenanceView = Type.Object(
  { cluster: Type.String(), node: Type.String(), computedAt: Time('when the analysis the check uses was computed'), ...MaintenanceCheckSchema.properties },
  { description: "Whether the node can be taken down for the duration and rejoin by IST, from the cluster's past writes" },
);
export type MaintenanceView = Static<typeof MaintenanceView>;

/** As SchemasMatchAnalysis: a field added to the check and not to its schema is a type error. */
export type SchemasMatchMaintenance = Assert<Same<Static<typeof MaintenanceCheckSchema>, import('../analysis/maintenance.js').MaintenanceCheck>>;
