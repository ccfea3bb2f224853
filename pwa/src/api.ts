import { randomB64url } from './b64.js';
import { signJws } from './keys.js';
import { DEVICE_API_PATH, DEVICE_AUTH_TYP, type AssertionResponseJson } from '../../src/device-api/contract.js';
import type { AnswerResult, ReportResult, DeviceChallenge, EnrollRequest, EnrollResponse, PushSubscriptionJson, RegistrationOptionsResponse } from './types.js';

export type { EnrollRequest } from './types.js';

/** The device API client (docs/device-api.md). Works in the page and in the service worker. */

const TIMEOUT_MS = 15_000;

/** A refusal from the IdP with its stable `error` code, or `network_error` (status 0). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    readonly status: number,
    description: string,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(description);
  }
}

export interface DeviceCredentials {
  issuer: string;
  deviceId: string;
  privateKey: CryptoKey;
}

/** `${issuer}/api/device…`, keeping a path the issuer may have (https://host/idp). */
export function apiUrl(issuer: string, path: string): string {
  return `${issuer.replace(/\/+$/, '')}${DEVICE_API_PATH}${path}`;
}

async function call<T>(url: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      credentials: 'omit',
      cache: 'no-store',
      signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: { Accept: 'application/json', ...(init.body ? { 'Content-Type': 'application/json' } : {}), ...init.headers },
    });
  } catch (err) {
    throw new ApiError('network_error', 0, err instanceof Error ? err.message : 'network error');
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: a proxy's error page, or an empty body.
  }
  if (!res.ok) {
    const err = (body ?? {}) as { error?: unknown; error_description?: unknown };
    const retry = Number(res.headers.get('Retry-After'));
    throw new ApiError(
      typeof err.error === 'string' ? err.error : `http_${res.status}`,
      res.status,
      typeof err.error_description === 'string' ? err.error_description : res.statusText,
      Number.isFinite(retry) && retry > 0 ? retry : null,
    );
  }
  return body as T;
}

/** Section 2: `Authorization: Device <JWS>` bound to the method and path, used once (jti). */
export async function deviceAuthorization(creds: DeviceCredentials, method: string, url: string, extra: Record<string, unknown> = {}): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const jws = await signJws(
    creds.privateKey,
    { kid: creds.deviceId, typ: DEVICE_AUTH_TYP },
    {
      iss: creds.deviceId,
      aud: apiUrl(creds.issuer, ''),
      htm: method,
      htu: new URL(url).pathname,
      iat,
      exp: iat + 60,
      jti: randomB64url(18),
      ...extra,
    },
  );
  return `Device ${jws}`;
}

async function deviceCall<T>(creds: DeviceCredentials, method: string, path: string, body?: unknown, claims: Record<string, unknown> = {}): Promise<T> {
  const url = apiUrl(creds.issuer, path);
  return call<T>(url, {
    method,
    headers: { Authorization: await deviceAuthorization(creds, method, url, claims) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Section 1a: the registration options for the WebAuthn unlock policy; the code is not used up. */
export function webauthnOptions(issuer: string, code: string): Promise<RegistrationOptionsResponse> {
  return call<RegistrationOptionsResponse>(apiUrl(issuer, '/enroll/webauthn-options'), { method: 'POST', body: JSON.stringify({ code }) });
}

export function enroll(issuer: string, request: EnrollRequest): Promise<EnrollResponse> {
  return call<EnrollResponse>(apiUrl(issuer, '/enroll'), { method: 'POST', body: JSON.stringify(request) });
}

export async function listChallenges(creds: DeviceCredentials): Promise<DeviceChallenge[]> {
  const body = await deviceCall<{ challenges: DeviceChallenge[] }>(creds, 'GET', '/challenges');
  return Array.isArray(body?.challenges) ? body.challenges : [];
}

export function getChallenge(creds: DeviceCredentials, id: string): Promise<DeviceChallenge> {
  return deviceCall<DeviceChallenge>(creds, 'GET', `/challenges/${encodeURIComponent(id)}`);
}

export function putPushSubscription(creds: DeviceCredentials, push: PushSubscriptionJson | null): Promise<{ pushStatus: string }> {
  return deviceCall(creds, 'PUT', '/push-subscription', { push });
}

/** Section 6: unregistering proves a fresh TOTP (the `otp` claim), so the device key alone cannot remove the second factor. */
export function unregister(creds: DeviceCredentials, otp: string): Promise<{ status: string }> {
  return deviceCall(creds, 'DELETE', '', undefined, { otp });
}

export type WebAuthnAssertion = AssertionResponseJson;

/** Section 4: the signed answer is its own authentication (no Authorization header). */
export function postResponse(issuer: string, cid: string, response: string, webauthn?: WebAuthnAssertion): Promise<AnswerResult> {
  return call<AnswerResult>(apiUrl(issuer, `/challenges/${encodeURIComponent(cid)}/response`), {
    method: 'POST',
    body: JSON.stringify(webauthn ? { response, webauthn } : { response }),
  });
}

/** Section 4a: reports a request this account's phone denied as not the user's own; says when pushes resume. */
export function reportChallenge(creds: DeviceCredentials, id: string): Promise<ReportResult> {
  return deviceCall<ReportResult>(creds, 'POST', `/challenges/${encodeURIComponent(id)}/report`);
}
