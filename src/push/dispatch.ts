import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/types.js';
import type { Challenge } from '../challenge/types.js';
import type { Logger } from '../log.js';
import { buildNoticePayload, buildPushPayload } from './payload.js';
import type { Notifier, PushSubscriptionJson } from './types.js';

/** Where one message goes: a device and its live subscription. The sender never looks devices up. */
export interface PushTarget {
  deviceId: string;
  subscription: PushSubscriptionJson;
}

/**
 * Told by the push service that a subscription is gone (404/410): the caller marks it dead so it is
 * never used again. `endpoint` is the one that was used, so a newer subscription is not touched.
 */
export type OnGone = (deviceId: string, endpoint: string) => Promise<unknown>;

export interface DispatchOrder {
  targets: readonly PushTarget[];
  onGone: OnGone;
  /** Active devices without a live subscription (they find the challenge by polling): counted, not sent to. */
  pollOnly: number;
}

export interface DispatchResult {
  sent: number;
  gone: number;
  failed: number;
  /** Active devices without a live subscription: they find the challenge by polling. */
  pollOnly: number;
}

/**
 * RFC 8030 Topic (a newer push replaces an undelivered older one), 32 base64url chars: one per
 * device, as a Topic acts within one subscription anyway. One per account (it was) let a push
 * service link a user's phones and browsers to one another for good (red-team, Web Push round).
 */
export function pushTopic(name: string): string {
  return createHash('sha256').update(`pushotp-topic|${name}`).digest('base64url').slice(0, 32);
}

/** Pure: a subscription its browser said would expire by now (PushSubscription.expirationTime, ms). */
export const expiredSubscription = (s: { expirationTime?: number | null }, nowMs: number): boolean =>
  typeof s.expirationTime === 'number' && s.expirationTime > 0 && s.expirationTime <= nowMs;

/**
 * sign-in step 5 (docs/architecture.md): a challenge goes to the targets it is given (the sign-in core picks them). Push
 * trouble never breaks the sign-in: a failed push is logged and counted, and the page keeps
 * offering the passcode.
 */
export function createDispatcher(deps: { notifier: Notifier; issuer: string; audit: AuditLog; logger: Logger; now?: () => number }) {
  const now = deps.now ?? Date.now;
  return async function dispatch(challenge: Challenge, order: DispatchOrder): Promise<DispatchResult> {
    try {
      return await send(challenge, order);
    } catch (err) {
      deps.logger.error({ err, challengeId: challenge.id }, 'push dispatch failed');
      return { sent: 0, gone: 0, failed: 1, pollOnly: 0 };
    }
  };

  async function send(challenge: Challenge, order: DispatchOrder): Promise<DispatchResult> {
    const result: DispatchResult = { sent: 0, gone: 0, failed: 0, pollOnly: order.pollOnly };
    const ttlSeconds = Math.max(1, Math.floor((challenge.expiresAt - now()) / 1000));
    await Promise.all(order.targets.map(async ({ deviceId, subscription }) => {
      // Past the expiry its browser gave: as a push service's 410, the device goes on by polling (red-team: pushed to anyway).
      if (expiredSubscription(subscription, now())) {
        result.gone++;
        await order.onGone(deviceId, subscription.endpoint);
        return;
      }
      const payload = buildPushPayload(challenge, { issuer: deps.issuer, deviceId });
      const sent = await deps.notifier.send(subscription, payload, { ttlSeconds, topic: pushTopic(`challenge|${deviceId}`), urgency: 'high' });
      if (sent.status === 'sent') result.sent++;
      else if (sent.status === 'gone') {
        result.gone++;
        await order.onGone(deviceId, subscription.endpoint);
      } else {
        result.failed++;
        deps.logger.warn({ deviceId, reason: sent.reason, httpStatus: sent.httpStatus }, 'push failed');
      }
    }));
    // Written after the sign-in's page has answered: it may wait for another record's statement.
    await deps.audit.record({ type: 'push.sent', accountId: challenge.accountId, clientId: challenge.clientId, ip: challenge.ip,
      detail: { challengeId: challenge.id, ...result } }, { background: true });
    return result;
  }
}

export type Dispatch = ReturnType<typeof createDispatcher>;

/**
 * A notice to each target an account's `targets` gives but one (`exceptDeviceId`): e.g. "A new
 * authenticator was added" to every phone but the new one. Best effort, like a challenge.
 */
export function createNoticeDispatcher(deps: {
  targets: (accountId: string) => Promise<readonly PushTarget[]>; onGone: OnGone; notifier: Notifier; issuer: string; logger: Logger; now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  return async function notify(accountId: string, notice: { kind: 'device_added'; deviceName: string }, exceptDeviceId: string): Promise<number> {
    const targets = (await deps.targets(accountId)).filter((t) => t.deviceId !== exceptDeviceId);
    const results = await Promise.all(targets.map(async ({ deviceId, subscription }) => {
      const payload = buildNoticePayload(notice, { issuer: deps.issuer, deviceId, createdAt: now() });
      const sent = await deps.notifier.send(subscription, payload, { ttlSeconds: 86_400, topic: pushTopic(`notice|${deviceId}`), urgency: 'normal' });
      if (sent.status === 'gone') await deps.onGone(deviceId, subscription.endpoint);
      else if (sent.status === 'failed') deps.logger.warn({ deviceId, reason: sent.reason }, 'notice push failed');
      return sent.status === 'sent';
    }));
    return results.filter(Boolean).length;
  };
}
