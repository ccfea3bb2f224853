import type { PushSubscriptionJson } from './types.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function rawKey(value: unknown): Buffer | null {
  return typeof value === 'string' && BASE64URL.test(value) ? Buffer.from(value, 'base64url') : null;
}

/**
 * Checks a subscription before anything is encrypted or sent. Subscriptions come from devices, so
 * they are input: RFC 8030 requires an https push resource, RFC 8291 3.1/3.2 an uncompressed P-256
 * point (65 bytes, 0x04 first) and a 16-byte auth secret. Gives the endpoint and the decoded keys.
 */
export function checkSubscription(subscription: PushSubscriptionJson): { url: URL; p256dh: Buffer; auth: Buffer } | { error: string } {
  let url: URL;
  try {
    url = new URL(subscription.endpoint);
  } catch {
    return { error: 'endpoint is not a URL' };
  }
  if (url.protocol !== 'https:') return { error: 'endpoint is not https' };
  if (url.username || url.password) return { error: 'endpoint carries credentials' };
  const p256dh = rawKey(subscription.keys?.p256dh);
  if (!p256dh || p256dh.length !== 65 || p256dh[0] !== 0x04) return { error: 'p256dh is not a P-256 point' };
  const auth = rawKey(subscription.keys?.auth);
  if (!auth || auth.length !== 16) return { error: 'auth is not 16 bytes' };
  return { url, p256dh, auth };
}
