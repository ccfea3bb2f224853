/** A Web Push subscription as PushSubscription.toJSON() gives it. */
export interface PushSubscriptionJson {
  endpoint: string;
  expirationTime?: number | null;
  keys: { p256dh: string; auth: string };
}

/** What the service worker receives (encrypted end to end). Grants nothing by itself. */
export interface PushPayload {
  v: 1;
  type: 'challenge';
  /** Challenge id. */
  cid: string;
  /** Which account in the app this is for: the IdP's issuer and the device id. */
  issuer: string;
  deviceId: string;
  title: string;
  body: string;
  app: string;
  ip: string;
  location: string | null;
  browser: string;
  /** OpenID CIBA binding_message, when the request carries one (the phone shows it); else absent. */
  bindingMessage?: string;
  createdAt: number;
  expiresAt: number;
  numberMatching: boolean;
}

/**
 * A notice for the user, not a sign-in request (e.g. "A new authenticator was added"): shown as
 * a notification and nothing else; it grants nothing and asks for no answer.
 */
export interface NoticePayload {
  v: 1;
  type: 'notice';
  kind: 'device_added';
  issuer: string;
  deviceId: string;
  title: string;
  body: string;
  createdAt: number;
}

export interface SendOptions {
  /** Seconds the push service may hold the message (the challenge's remaining life). */
  ttlSeconds: number;
  /** RFC 8030 Topic: up to 32 base64url characters; a newer message with it replaces a pending one. */
  topic: string;
  urgency: 'very-low' | 'low' | 'normal' | 'high';
}

export type SendResult =
  | { status: 'sent'; httpStatus: number; attempts: number }
  /** 404/410: the subscription is gone; the caller marks it dead and never uses it again. */
  | { status: 'gone'; httpStatus: number; attempts: number }
  | { status: 'failed'; reason: string; httpStatus?: number; attempts: number; retryAfterSeconds?: number };

/** Sends one notification to one subscription. */
export interface Notifier {
  send(subscription: PushSubscriptionJson, payload: PushPayload | NoticePayload, options: SendOptions): Promise<SendResult>;
  close(): Promise<void>;
}
