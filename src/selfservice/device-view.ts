import { isPending, pendingUntil } from '../devices/registry.js';
import type { Device } from '../devices/types.js';

/**
 * What the account page shows of a device. Pure. Times go out as ISO strings: the page shows them
 * in the user's own time zone (/static/account.js), and in UTC when scripts are off.
 */
export interface DeviceView {
  id: string;
  name: string;
  status: 'active' | 'revoked';
  /** Enrolled, but the phone has not confirmed it yet (docs/device-api.md section 1b). */
  pending: boolean;
  /** Until when a pending device still counts (ISO), else null. */
  pendingUntil: string | null;
  /** How the phone hears of a request; the page names it in the user's language (account.mode.*). */
  mode: 'push' | 'dead' | 'poll';
  enrolled: string;
  lastUsed: string | null;
}

export function deviceView(d: Device): DeviceView {
  const pending = isPending(d) && d.status === 'active';
  return {
    id: d.id, name: d.name, status: d.status, pending,
    pendingUntil: pending ? pendingUntil(d).toISOString() : null,
    mode: d.pushStatus === 'active' ? 'push' : d.pushStatus === 'dead' ? 'dead' : 'poll',
    enrolled: d.createdAt.toISOString(),
    lastUsed: d.lastUsedAt?.toISOString() ?? null,
  };
}

/** A UTC time for the page without scripts, e.g. "2026-12-03 14:05 UTC". */
export function utcText(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * What the enrollment page's poll sees: nothing yet, a device made from the code but not
 * confirmed by the phone, or a device the phone has confirmed. `after` is the newest device the
 * account had when the code was shown (its creation time, ISO), or null when it had none.
 */
export type EnrollStatus =
  | { state: 'waiting' }
  | { state: 'pending' | 'active'; name: string };

export function enrollStatus(devices: readonly Device[], after: string | null): EnrollStatus {
  const since = after ? Date.parse(after) : Number.NEGATIVE_INFINITY;
  const fresh = devices.filter((d) => d.createdAt.getTime() > since && d.status === 'active').at(-1);
  if (!fresh) return { state: 'waiting' };
  return { state: isPending(fresh) ? 'pending' : 'active', name: fresh.name };
}
