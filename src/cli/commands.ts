import { randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import { hashPassword, passwordProblem } from '../accounts/passwords.js';
import { USERNAME_PATTERN, type AccountStore } from '../accounts/store.js';
import { unshowable } from '../config/shown-name.js';
import type { createAuditLog } from '../audit/log.js';
import type { DeviceService } from '../devices/service.js';
import type { EndedSessions } from '../oidc/sessions.js';
import type { FederatedLinks } from '../upstream/links.js';
import { federationCommands } from './federation-commands.js';
import { keysCommands, type SigningKeysAdmin } from './keys.js';
import { tableRow } from './printable.js';

/** What a command needs; main.ts opens the real ones, tests may pass their own. */
export interface CliContext {
  accounts: AccountStore;
  devices: DeviceService;
  audit: ReturnType<typeof createAuditLog>;
  out: (line: string) => void;
  /** Reads a secret from standard input (for --password-stdin). */
  readStdin: () => Promise<string>;
  /** Lifts a push mute (set by a "deny and report"); false when none was set. */
  unmute: (accountId: string) => Promise<boolean>;
  /** Deletes the account's guess counts (password, passcodes, its devices' TOTPs); how many were set. */
  unlock: (account: { id: string; username: string }) => Promise<number>;
  /** Ends the account's sessions, grants and tokens everywhere. */
  endSessions: (accountId: string) => Promise<EndedSessions>;
  /** Re-seals secrets at rest under the active key-encryption key. */
  rewrapSecrets: () => Promise<{ total: number; rewrapped: number }>;
  /** The clock (main.ts gives the system's). */
  now: () => number;
  /** Links to upstream identities (MFA-only mode, docs/entra.md). */
  links?: FederatedLinks;
  /** The OIDC signing keys and their rotation (src/cli/keys.ts). */
  signingKeys: SigningKeysAdmin;
}

export class UsageError extends Error {
  readonly code = 'usage';
}

export interface Command {
  usage: string;
  help: string;
  options?: Record<string, { type: 'string' | 'boolean'; help: string }>;
  /** The last word of the usage may be several words (joined by the command). */
  manyWordsLast?: boolean;
  run(ctx: CliContext, args: string[], opts: Record<string, string | boolean | undefined>): Promise<void>;
}

const ADMIN = 'admin-cli';

async function accountOf(ctx: CliContext, username: string | undefined) {
  if (!username) throw new UsageError('a username is required');
  const account = await ctx.accounts.findByUsername(username);
  // Refused by the data, 65, as a device that is not there (red-team: 64 said the command was wrong).
  if (!account) throw Object.assign(new Error(`no user ${JSON.stringify(username)}`), { code: 'no_such_user' });
  return account;
}

async function newPassword(ctx: CliContext, opts: Record<string, string | boolean | undefined>, context: string[]): Promise<{ password: string; generated: boolean }> {
  const given = opts['password-stdin'] ? (await ctx.readStdin()).replace(/\r?\n$/, '') : (opts.password as string | undefined);
  const password = given ?? randomBytes(12).toString('base64url');
  // A generated password (96 random bits) needs no check; a chosen one is checked (NIST SP 800-63B 5.1.1.2).
  const problem = given === undefined ? null : passwordProblem(password, context);
  if (problem) throw new UsageError(problem);
  return { password, generated: given === undefined };
}

export const signedOut = (e: EndedSessions) => `ended ${e.sessions} session(s), ${e.grants} grant(s), ${e.refreshTokens} refresh token(s)`
  + (e.enrollmentCodes ? `, voided ${e.enrollmentCodes} self-service enrollment code(s)` : '')
  + (e.pendingDevices.length ? `, revoked ${e.pendingDevices.length} unconfirmed device(s)` : '')
  + (e.pushes ? `, withdrew ${e.pushes} push request(s) still pending` : '');

const MAX_DISPLAY_NAME = 200;
const MAX_EMAIL = 254;

/**
 * A display name (or e-mail) is shown to people: by `user list`, on /account, and on the phone
 * (the enrollment answer, its notifications). Red-team: `--name` took a newline, a tab, ESC and a
 * bidi override, so `user list` printed a forged row; 100,000 characters were taken too. The same
 * rule as every other shown name (config/shown-name.ts).
 */
function checkShown(option: string, value: string | undefined, max: number): void {
  if (value === undefined) return;
  if (value.length === 0 || value.length > max) throw new UsageError(`${option} must be 1-${max} characters`);
  if (value.trim() !== value) throw new UsageError(`${option} must not start or end with a blank`);
  const why = unshowable(value);
  if (why !== null) throw new UsageError(`${option} ${why}`);
}

const passwordOptions = {
  password: { type: 'string' as const, help: 'the password (visible in the shell history: prefer --password-stdin)' },
  'password-stdin': { type: 'boolean' as const, help: 'read the password from standard input' },
};

export const commands: Record<string, Command> = {
  'user create': {
    usage: 'user create <username> [--name "Full Name"] [--email a@b] [--password-stdin | --password P]',
    help: 'Creates a user. Without a password option a random one is generated and printed once.',
    options: { name: { type: 'string', help: 'display name' }, email: { type: 'string', help: 'e-mail address' }, ...passwordOptions },
    async run(ctx, [username], opts) {
      if (!username || !USERNAME_PATTERN.test(username)) throw new UsageError('the username must be 1-100 letters, digits or . _ @ + -');
      checkShown('--name', opts.name as string | undefined, MAX_DISPLAY_NAME);
      checkShown('--email', opts.email as string | undefined, MAX_EMAIL);
      if (typeof opts.email === 'string' && /\s/.test(opts.email)) throw new UsageError('--email must not contain blanks');
      const { password, generated } = await newPassword(ctx, opts, [username, (opts.name as string | undefined) ?? '', (opts.email as string | undefined) ?? '']);
      const account = await ctx.accounts.create({
        username, displayName: (opts.name as string | undefined) ?? username, email: (opts.email as string | undefined) ?? null,
        passwordHash: await hashPassword(password),
      });
      await ctx.audit.record({ type: 'admin.user.create', accountId: account.id, detail: { by: ADMIN, username } });
      ctx.out(`created user ${username} (${account.id})`);
      if (generated) ctx.out(`password: ${password}`);
    },
  },
  'user set-password': {
    usage: 'user set-password <username> [--password-stdin | --password P]',
    help: 'Sets a new password and signs the user out everywhere. Without a password option a random one is generated and printed once.',
    options: passwordOptions,
    async run(ctx, [username], opts) {
      const account = await accountOf(ctx, username);
      const { password, generated } = await newPassword(ctx, opts, [account.username, account.displayName, account.email ?? '']);
      await ctx.accounts.setPasswordHash(account.id, await hashPassword(password));
      // Whoever signed in with the old password is signed out with it.
      const ended = await ctx.endSessions(account.id);
      await ctx.audit.record({ type: 'admin.user.set-password', accountId: account.id, detail: { by: ADMIN, ...ended } });
      ctx.out(`password of ${account.username} changed; ${signedOut(ended)}`);
      if (generated) ctx.out(`password: ${password}`);
    },
  },
  'user disable': {
    usage: 'user disable <username>',
    help: 'Stops a user from signing in and ends their sessions, grants and tokens.',
    async run(ctx, [username]) {
      const account = await accountOf(ctx, username);
      await ctx.accounts.setDisabled(account.id, true);
      const ended = await ctx.endSessions(account.id);
      await ctx.audit.record({ type: 'admin.user.disable', accountId: account.id, detail: { by: ADMIN, ...ended } });
      ctx.out(`disabled ${account.username}; ${signedOut(ended)}`);
    },
  },
  'user sign-out': {
    usage: 'user sign-out <username>',
    help: 'Signs a user out everywhere: ends their sessions, grants, refresh and access tokens.',
    async run(ctx, [username]) {
      const account = await accountOf(ctx, username);
      const ended = await ctx.endSessions(account.id);
      await ctx.audit.record({ type: 'admin.user.sign-out', accountId: account.id, detail: { by: ADMIN, ...ended } });
      ctx.out(`${account.username}: ${signedOut(ended)}`);
    },
  },
  'user enable': {
    usage: 'user enable <username>',
    help: 'Lets a disabled user sign in again.',
    async run(ctx, [username]) {
      const account = await accountOf(ctx, username);
      await ctx.accounts.setDisabled(account.id, false);
      await ctx.audit.record({ type: 'admin.user.enable', accountId: account.id, detail: { by: ADMIN } });
      ctx.out(`enabled ${account.username}`);
    },
  },
  'user list': {
    usage: 'user list',
    help: 'Lists users: username, state, id, display name.',
    async run(ctx) {
      for (const a of await ctx.accounts.list()) {
        ctx.out(tableRow([a.username, a.disabled ? 'disabled' : 'active', a.id, a.displayName]));
      }
    },
  },
  'user unmute': {
    usage: 'user unmute <username>',
    help: 'Lets pushes reach a user again after a "deny and report" muted them (before the mute runs out).',
    async run(ctx, [username]) {
      const account = await accountOf(ctx, username);
      const lifted = await ctx.unmute(account.id);
      await ctx.audit.record({ type: 'admin.user.unmute', accountId: account.id, detail: { by: ADMIN, lifted } });
      ctx.out(lifted ? `pushes to ${account.username} are on again` : `${account.username} was not muted`);
    },
  },
  'user unlock': {
    usage: 'user unlock <username>',
    help: 'Lifts a user\'s lockouts: passcodes locked after 100 wrong ones in a row, and the password\'s and the devices\' guess counts.',
    async run(ctx, [username]) {
      const account = await accountOf(ctx, username);
      const lifted = await ctx.unlock(account);
      await ctx.audit.record({ type: 'admin.user.unlock', accountId: account.id, detail: { by: ADMIN, lifted } });
      ctx.out(lifted > 0 ? `${account.username}'s guess counts are cleared (${lifted})` : `${account.username} had no guess counts`);
    },
  },
  reports: {
    usage: 'reports [--since <ISO time>] [--limit N]',
    help: 'Recent "deny and report" events (sign-in requests users said were not theirs), newest first.',
    options: { since: { type: 'string', help: 'from this time (ISO 8601); default the last 7 days' }, limit: { type: 'string', help: 'at most N (default 100)' } },
    async run(ctx, _args, opts) {
      const since = opts.since ? new Date(opts.since as string) : new Date(ctx.now() - 7 * 86_400_000);
      if (Number.isNaN(since.getTime())) throw new UsageError('--since must be an ISO 8601 time');
      const limit = opts.limit === undefined ? 100 : Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new UsageError('--limit must be 1..10000');
      const rows = await ctx.audit.query({ type: 'push.reported', since, limit });
      if (rows.length === 0) ctx.out('no reports');
      const names = new Map((await ctx.accounts.list()).map((a) => [a.id, a.username]));
      for (const r of rows) {
        ctx.out(tableRow([r.at.toISOString(), names.get(r.accountId ?? '') ?? r.accountId ?? '-', r.clientId ?? '-', r.ip ?? '-', JSON.stringify(r.detail)]));
      }
    },
  },
  'device enroll-code': {
    usage: 'device enroll-code <username>',
    help: 'Creates a one-time enrollment code (15 minutes) and prints it as a link and a QR code to scan with the authenticator app.',
    async run(ctx, [username]) {
      const account = await accountOf(ctx, username);
      const offer = await ctx.devices.issueEnrollment(account.id, ADMIN);
      ctx.out(`enrollment code for ${account.username}: ${offer.code} (expires ${offer.expiresAt.toISOString()})`);
      ctx.out(`open on the phone: ${offer.url}`);
      ctx.out(await QRCode.toString(offer.url, { type: 'terminal', small: true }));
      if (offer.recoveryCodes) ctx.out(`recovery codes (give them to the user; shown this once): ${offer.recoveryCodes.join(' ')}`);
    },
  },
  'device list': {
    usage: 'device list <username>',
    help: 'Lists a user\'s devices: id, name, state, push mode, enrolled, last used.',
    async run(ctx, [username]) {
      const account = await accountOf(ctx, username);
      for (const d of await ctx.devices.listDevices(account.id)) {
        ctx.out(tableRow([d.id, d.name, d.status, d.pushStatus === 'active' ? 'push' : d.pushStatus === 'none' ? 'poll' : 'push-dead',
          d.createdAt.toISOString(), d.lastUsedAt?.toISOString() ?? '-']));
      }
    },
  },
  'device rename': {
    usage: 'device rename <username> <device-id> <new name>',
    help: 'Renames a device.',
    manyWordsLast: true,
    async run(ctx, [username, deviceId, ...name]) {
      const account = await accountOf(ctx, username);
      if (!deviceId || name.length === 0) throw new UsageError('a device id and a new name are required');
      const d = await ctx.devices.renameDevice(account.id, deviceId, name.join(' '), 'admin-cli');
      ctx.out(`renamed ${d.id} to "${d.name}"`);
    },
  },
  'device revoke': {
    usage: 'device revoke <username> <device-id>',
    help: 'Revokes a device: it can no longer approve sign-ins or receive pushes, and the user is signed out everywhere.',
    async run(ctx, [username, deviceId]) {
      const account = await accountOf(ctx, username);
      if (!deviceId) throw new UsageError('a device id is required');
      const d = await ctx.devices.revokeDevice(account.id, deviceId, 'admin-cli');
      ctx.out(`revoked ${d.id} ("${d.name}")`);
    },
  },
  'secrets rewrap': {
    usage: 'secrets rewrap',
    help: 'Re-seals every TOTP secret and stored private key (OIDC signing, VAPID) under the active key-encryption key (the first in KEK), so an older key can be retired.',
    async run(ctx) {
      const { total, rewrapped } = await ctx.rewrapSecrets();
      await ctx.audit.record({ type: 'admin.secrets.rewrap', detail: { by: ADMIN, total, rewrapped } });
      ctx.out(`re-sealed ${rewrapped} of ${total} device secrets under the active key`);
    },
  },
  audit: {
    usage: 'audit [--user <username>] [--since <ISO time>] [--until <ISO time>] [--type <prefix>] [--limit N]',
    help: 'Shows audit events, newest first: sign-ins, pushes, devices, admin actions.',
    options: {
      user: { type: 'string', help: 'only this user' },
      since: { type: 'string', help: 'from this time (ISO 8601)' },
      until: { type: 'string', help: 'until this time (ISO 8601)' },
      type: { type: 'string', help: 'event type prefix, e.g. push. or signin.' },
      limit: { type: 'string', help: 'at most N events (default 100)' },
    },
    async run(ctx, _args, opts) {
      const time = (name: string) => {
        const v = opts[name] as string | undefined;
        if (v === undefined) return undefined;
        const d = new Date(v);
        if (Number.isNaN(d.getTime())) throw new UsageError(`--${name} must be an ISO 8601 time`);
        return d;
      };
      const limit = opts.limit === undefined ? 100 : Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new UsageError('--limit must be 1..10000');
      const accountId = opts.user ? (await accountOf(ctx, opts.user as string)).id : undefined;
      const rows = await ctx.audit.query({ accountId, since: time('since'), until: time('until'), type: opts.type as string | undefined, limit });
      for (const r of rows) {
        ctx.out(tableRow([r.at.toISOString(), r.type, r.accountId ?? '-', r.clientId ?? '-', r.ip ?? '-', JSON.stringify(r.detail)]));
      }
    },
  },
  ...federationCommands,
  ...keysCommands,
};
