import type { PushPayload } from './types.js';

/** The push payload (docs/device-api.md "Push messages"), checked field by field: it comes from the network. */
export function parsePushPayload(value: unknown): PushPayload | null {
  if (!value || typeof value !== 'object') return null;
  const p = value as Record<string, unknown>;
  const str = (k: string) => typeof p[k] === 'string';
  if (p.type !== 'challenge' || !str('cid') || !str('issuer') || !str('deviceId')) return null;
  if (typeof p.createdAt !== 'number' || typeof p.expiresAt !== 'number') return null;
  return {
    v: 1,
    type: 'challenge',
    cid: p.cid as string,
    issuer: p.issuer as string,
    deviceId: p.deviceId as string,
    title: str('title') ? (p.title as string) : 'Sign-in request',
    body: str('body') ? (p.body as string) : '',
    app: str('app') ? (p.app as string) : '',
    ip: str('ip') ? (p.ip as string) : '',
    location: str('location') ? (p.location as string) : null,
    browser: str('browser') ? (p.browser as string) : '',
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    numberMatching: p.numberMatching === true,
  };
}

/** The request page of the app, relative to /pwa/. */
export function requestPath(cid: string, issuer: string, deviceId: string): string {
  return `./?${new URLSearchParams({ request: cid, issuer, device: deviceId })}`;
}
