import { randomBytes } from 'node:crypto';

/**
 * A new sign-in id, for a front door that has no transaction id of its own (the agent API, RADIUS):
 * 128 random bits, base64url (22 characters of [A-Za-z0-9_-]). The OIDC pages pass their
 * interaction uid instead; to the core either is an opaque id.
 */
export const newSignInId = (): string => randomBytes(16).toString('base64url');
