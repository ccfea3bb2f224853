import type Provider from 'oidc-provider';
import type { AccountStore } from '../accounts/store.js';
import type { AuditLog } from '../audit/types.js';
import { DEFAULT_ACR, type ClientRegistration, type LoginPolicy } from '../config/clients.js';
import type { Csrf } from '../http/csrf.js';
import type { Views } from '../http/views.js';
import type { GeoIp } from '../challenge/context.js';
import type { ChallengeStore, ChallengeWaiters } from '../challenge/types.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { RecoveryCodes } from '../devices/recovery-codes.js';
import type { Dispatch } from '../push/dispatch.js';
import type { Redis } from '../storage/redis.js';
import type { PushFatigueStore } from '../defences/push-fatigue-store.js';
import type { Throttle } from '../defences/throttle-store.js';
import type { SignInStateStore } from './state.js';

/** The default for apps not registered through config/ (none today, but never undefined). */
export const DEFAULT_POLICY: LoginPolicy = {
  form: 'two-step',
  numberMatching: true,
  noDevice: 'password-only',
  consent: 'explicit',
  acr: { ...DEFAULT_ACR },
};

/** What the second factor (push or passcode) needs; app.ts wires the real ones. */
export interface SecondFactorDeps {
  devices: DeviceRegistry;
  challenges: ChallengeStore;
  waiters: ChallengeWaiters;
  dispatch: Dispatch;
  secretBox: SecretBox;
  geoip: GeoIp;
  redis: Redis;
  fatigue: PushFatigueStore;
  /** One-time recovery codes: the way back in after losing every authenticator. */
  recovery: RecoveryCodes;
  challengeTtlMs: number;
  /** Longest a status request waits for a resolution before answering "still pending". */
  longPollMs: number;
  now: () => number;
}

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountStore;
  views: Views;
  csrf: Csrf;
  signins: SignInStateStore;
  clients: Map<string, ClientRegistration>;
  audit: AuditLog;
  secondFactor: SecondFactorDeps;
  throttle: Throttle;
}
