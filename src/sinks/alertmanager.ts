/**
 * Alertmanager's own API (POST /api/v2/alerts), one alert per request. Alertmanager resolves an
 * alert by itself once its endsAt passes, so a firing alert is sent with an endsAt set at each
 * attempt (never a stale one from when it was queued) and is re-posted for as long as it fires;
 * Alertmanager does its own repeating, so it gets no reminders.
 */
import { defineSink } from './definition.js';
import type { AlertView } from './view.js';

/** The alert without endsAt while it fires: the request sets one at each attempt. */
function alertmanagerPayload(a: AlertView): Record<string, unknown> {
  return {
    labels: a.labels,
    annotations: a.annotations,
    startsAt: new Date(a.startsAt).toISOString(),
    ...(a.status === 'resolved' && a.endsAt !== null ? { endsAt: new Date(a.endsAt).toISOString() } : {}),
    generatorURL: '',
  };
}

export const alertmanager = defineSink({
  type: 'alertmanager',
  payload: alertmanagerPayload,
  request({ kind, payload, now }, { url, firingHoldMs }) {
    const alert = payload as Record<string, unknown>;
    const sent = kind === 'firing' ? { ...alert, endsAt: new Date(now + firingHoldMs).toISOString() } : alert;
    return { url: `${url.replace(/\/+$/, '')}/api/v2/alerts`, body: JSON.stringify([sent]), headers: {} };
  },
  resendWhileFiring: true,
  repeats: false,
  signs: false,
});
