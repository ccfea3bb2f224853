import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/types.js';
import type { Challenge } from '../challenge/types.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { Logger } from '../log.js';
import { buildNoticePayload, buildPushPayload } from './payload.js';
import type { Notifier } from './types.js';

export interface DispatchResult {
  sent: number;
  gone: number;
  failed: number;
  /** Active devices without a live subscription: they find the challenge by polling. */
  pollOnly: number;
}

/** RFC 8030 Topic: one per user (a newer push replaces an undelivered older one), 32 base64url chars. */
export function pushTopic(accountId: string): string {
  return createHash('sha256').update(`pushotp-topic|${accountId}`).digest('base64url').slice(0, 32);
}

/**
 * DESIGN step 5: a challenge goes to each live device of its user. Push trouble never breaks the
 * sign-in: a failed push is logged and counted, and the page keeps offering the passcode.
 */
export function createDispatcher(deps: { devices: DeviceRegistry; notifier: Notifier; issuer: string; audit: AuditLog; logger: Logger; now?: () => number }) {
  const now = deps.now ?? Date.now;
  return async function dispatch(challenge: Challenge): Promise<DispatchResult> {
    try {
      return await send(challenge);
    } catch (err) {
      deps.logger.error({ err, challengeId: challenge.id }, 'push dispatch failed');
      return { sent: 0, gone: 0, failed: 1, pollOnly: 0 };
    }
  };

  async function send(challenge: Challenge): Promise<DispatchResult> {
    const all = (await deps.devices.listByAccount(challenge.accountId)).filter((d) => d.status === 'active');
    const targets = all.filter((d) => d.pushStatus === 'active' && d.push);
    const result: DispatchResult = { sent: 0, gone: 0, failed: 0, pollOnly: all.length - targets.length };
    const ttlSeconds = Math.max(1, Math.floor((challenge.expiresAt - now()) / 1000));
    await Promise.all(targets.map(async (device) => {
      const payload = buildPushPayload(challenge, { issuer: deps.issuer, deviceId: device.id });
      const sent = await deps.notifier.send(device.push!, payload, { ttlSeconds, topic: pushTopic(challenge.accountId), urgency: 'high' });
      if (sent.status === 'sent') result.sent++;
      else if (sent.status === 'gone') {
        result.gone++;
        await deps.devices.markPushDead(device.id, device.push!.endpoint);
      } else {
        result.failed++;
        deps.logger.warn({ deviceId: device.id, reason: sent.reason, httpStatus: sent.httpStatus }, 'push failed');
      }
    }));
    await deps.audit.record({ type: 'push.sent', accountId: challenge.accountId, clientId: challenge.clientId, ip: challenge.ip,
      detail: { challengeId: challenge.id, ...result } });
    return result;
  }
}

export type Dispatch = ReturnType<typeof createDispatcher>;

/**
 * A notice to each active device of an account with a live subscription, but one (`exceptDeviceId`):
 * e.g. "A new authenticator was added" to every phone but the new one. Best effort, like a challenge.
 */
export function createNoticeDispatcher(deps: { devices: DeviceRegistry; notifier: Notifier; issuer: string; logger: Logger; now?: () => number }) {
  const now = deps.now ?? Date.now;
  return async function notify(accountId: string, notice: { kind: 'device_added'; deviceName: string }, exceptDeviceId: string): Promise<number> {
    const targets = (await deps.devices.listPushTargets(accountId)).filter((d) => d.id !== exceptDeviceId);
    const results = await Promise.all(targets.map(async (device) => {
      const payload = buildNoticePayload(notice, { issuer: deps.issuer, deviceId: device.id, createdAt: now() });
      const sent = await deps.notifier.send(device.push!, payload, { ttlSeconds: 86_400, topic: pushTopic(`notice|${device.id}`), urgency: 'normal' });
      if (sent.status === 'gone') await deps.devices.markPushDead(device.id, device.push!.endpoint);
      else if (sent.status === 'failed') deps.logger.warn({ deviceId: device.id, reason: sent.reason }, 'notice push failed');
      return sent.status === 'sent';
    }));
    return results.filter(Boolean).length;
  };
}
