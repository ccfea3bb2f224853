import { accountKey, type AccountRecord, type NoticePayload, type PushPayload } from './types.js';

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
    // OpenID CIBA binding_message: shown as text only, and only when short (the server caps it at 64).
    ...(str('bindingMessage') && (p.bindingMessage as string).length <= 200 ? { bindingMessage: p.bindingMessage as string } : {}),
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    numberMatching: p.numberMatching === true,
  };
}

/** A notice (docs/device-api.md "Push messages", type 'notice'): shown, never answered. */
export function parseNoticePayload(value: unknown): NoticePayload | null {
  if (!value || typeof value !== 'object') return null;
  const p = value as Record<string, unknown>;
  if (p.type !== 'notice' || p.kind !== 'device_added' || typeof p.issuer !== 'string' || typeof p.deviceId !== 'string') return null;
  return {
    v: 1,
    type: 'notice',
    kind: 'device_added',
    issuer: p.issuer,
    deviceId: p.deviceId,
    title: typeof p.title === 'string' && p.title ? p.title : 'A new authenticator was added',
    body: typeof p.body === 'string' ? p.body : '',
    createdAt: typeof p.createdAt === 'number' ? p.createdAt : Date.now(),
  };
}

/** The request page of the app, relative to /pwa/. */
export function requestPath(cid: string, issuer: string, deviceId: string): string {
  return `./?${new URLSearchParams({ request: cid, issuer, device: deviceId })}`;
}

/**
 * The account a push speaks for: the one it names, and only when that account's subscription lives
 * in the registration the push arrived on. Each IdP pushes with its own VAPID key to a registration
 * of its own (push-setup.ts), so a push naming another registration's account was sent with another
 * IdP's key: 'elsewhere', shown as unreadable, never as a request for that account. Null: no such
 * account on this phone (removed, or never here).
 */
export function accountForPush<A extends Pick<AccountRecord, 'id' | 'push'>>(
  accounts: readonly A[], named: { issuer: string; deviceId: string }, registrationScope: string,
): A | 'elsewhere' | null {
  const account = accounts.find((a) => a.id === accountKey(named.issuer, named.deviceId));
  if (!account) return null;
  return account.push.scope === registrationScope ? account : 'elsewhere';
}
