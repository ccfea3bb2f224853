import type { ClientRegistration } from './clients.js';
import type { Settings } from './settings.js';

/** What an enrolling authenticator is told to set up and expect (the enrollment answer's `policy`). */
export interface EnrollmentPolicy {
  /** True only when every relying app asks for number matching; each request says so itself anyway. */
  numberMatching: boolean;
  unlock: Settings['deviceUnlock'];
  pollIntervalSeconds: number;
}

/** Pure: the device policy from the relying apps and the settings. The same for every account today. */
export function enrollmentPolicy(
  clients: readonly Pick<ClientRegistration, 'login'>[],
  settings: Pick<Settings, 'deviceUnlock' | 'pollIntervalSeconds'>,
): EnrollmentPolicy {
  return {
    numberMatching: clients.every((c) => c.login.numberMatching),
    unlock: settings.deviceUnlock,
    pollIntervalSeconds: settings.pollIntervalSeconds,
  };
}
