import type { RelyingApp } from '../apps/registry.js';
import type { Account, AccountStore } from '../accounts/store.js';
import type { AuditLog } from '../audit/types.js';
import type { GeoIp } from '../challenge/context.js';
import type { ChallengeStore, ChallengeWaiters } from '../challenge/types.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { PushFatigueStore } from '../defences/push-fatigue-store.js';
import type { Throttle } from '../defences/throttle-store.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { RecoveryCodes } from '../devices/recovery-codes.js';
import type { Logger } from '../log.js';
import type { Dispatch } from '../push/dispatch.js';
import type { ResolutionPolicy } from './resolution.js';
import type { UpstreamDeps } from './upstream.js';
import type { SignInState, SignInStateStore } from './state.js';

/** The relying app a sign-in is for, as the front door found it in the registry of relying apps (src/apps/registry.ts). */
export type { RelyingApp } from '../apps/registry.js';

/** Who asks, as the front door saw them: what a challenge shows on the phone and the audit keeps. */
export interface Requester {
  /** After trusted-proxy handling (http/client-ip.ts for the browser doors). */
  ip: string;
  userAgent: string;
  app: RelyingApp;
}

/**
 * One sign-in as a front door hands it to the core: an opaque id (the OIDC pages pass their
 * interaction uid; the core never reads meaning into it), who asks, and how long it may live.
 */
export interface SignInRef {
  id: string;
  requester: Requester;
  /** What is left of the front door's own transaction: the sign-in's state lives no longer. */
  ttlSeconds: number;
}

/** A sign-in past its first factor, as the core hands it back to the step that continues it. */
export interface Started extends SignInRef {
  state: SignInState;
}

/** Both factors done (or the password alone where the app allows it): what the front door finishes with. */
export interface Login {
  accountId: string;
  /** RFC 8176 methods. */
  amr: string[];
  acr: string;
  /** When its first factor was done (epoch ms, the core's clock): the end of the account's sessions after it voids it. */
  firstFactorAt: number;
  /**
   * Its second factor was a push approved without a number to match (the app had number matching
   * off): an SSO session it makes does not open an app that wants number matching (oidc/provider.ts).
   */
  unmatchedPush?: true;
  /**
   * Its push's number was picked among choices, not typed (the app had Verified Push off): an SSO
   * session it makes does not open an app that wants Verified Push (oidc/provider.ts).
   */
  pickedPush?: true;
}

/** What the core needs: engines only (no koa, no views, no oidc-provider). app.ts wires the real ones. */
export interface SignInDeps {
  accounts: AccountStore;
  audit: AuditLog;
  throttle: Throttle;
  states: SignInStateStore;
  devices: DeviceRegistry;
  challenges: ChallengeStore;
  waiters: ChallengeWaiters;
  dispatch: Dispatch;
  secretBox: SecretBox;
  geoip: GeoIp;
  fatigue: PushFatigueStore;
  /** One-time recovery codes: the way back in after losing every authenticator. */
  recovery: RecoveryCodes;
  /** What a resolution does (resolution.ts); withdrawals go through it like the device API's answers. */
  resolution: ResolutionPolicy;
  logger: Logger;
  challengeTtlMs: number;
  /** Longest a status request waits for a resolution before answering "still pending". */
  longPollMs: number;
  now: () => number;
  /** First factors from trusted upstream assertions (MFA-only clients); absent: none configured. */
  upstream?: UpstreamDeps;
  /** An account a finishing sign-in has just read, for oidc-provider's findAccount cache (oidc/account-cache.ts). */
  rememberAccount?: (account: Account) => void;
}
