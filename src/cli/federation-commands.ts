import { ENTRA_CLOUDS, type EntraCloud } from '../upstream/config.js';
import { entraIssuer } from '../upstream/links.js';
import { signedOut, UsageError, type CliContext, type Command } from './commands.js';
import { tableRow } from './printable.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const identityOptions = {
  'entra-tenant': { type: 'string', help: 'Entra tenant id (tid, a GUID)' },
  'entra-oid': { type: 'string', help: 'the user\'s Entra object id (oid, a GUID)' },
  'entra-cloud': { type: 'string', help: 'the tenant\'s Microsoft cloud: global (default), usgov or china' },
  issuer: { type: 'string', help: 'another upstream: its issuer (iss)' },
  subject: { type: 'string', help: 'another upstream: the user\'s sub there' },
} as const;

/** The upstream identity the options name: Entra's tenant + oid, or an issuer + subject. */
function identity(opts: Record<string, string | boolean | undefined>): { issuer: string; subject: string } {
  const tid = opts['entra-tenant'];
  const oid = opts['entra-oid'];
  if (typeof tid === 'string' || typeof oid === 'string' || opts['entra-cloud'] !== undefined) {
    if (typeof tid !== 'string' || !GUID.test(tid)) throw new UsageError('--entra-tenant must be the tenant id (a GUID)');
    if (typeof oid !== 'string' || !GUID.test(oid)) throw new UsageError('--entra-oid must be the user\'s object id (a GUID)');
    const cloud = opts['entra-cloud'] ?? 'global';
    if (typeof cloud !== 'string' || !Object.hasOwn(ENTRA_CLOUDS, cloud)) throw new UsageError('--entra-cloud must be global, usgov or china');
    return { issuer: entraIssuer(tid, cloud as EntraCloud), subject: oid.toLowerCase() };
  }
  const { issuer, subject } = opts;
  if (typeof issuer !== 'string' || typeof subject !== 'string' || !subject || subject.length > 255) {
    throw new UsageError('give --entra-tenant and --entra-oid, or --issuer and --subject');
  }
  try { new URL(issuer); } catch { throw new UsageError('--issuer must be a URL'); }
  return { issuer, subject };
}

function links(ctx: CliContext) {
  if (!ctx.links) throw new UsageError('federated links are not available here');
  return ctx.links;
}

async function accountNamed(ctx: CliContext, username: string | undefined) {
  if (!username) throw new UsageError('name the user');
  const account = await ctx.accounts.findByUsername(username);
  if (!account) throw Object.assign(new Error(`no user "${username}"`), { code: 'not_found' });
  return account;
}

/** Links between accounts and identities at trusted upstream issuers (MFA-only mode, docs/entra.md). */
export const federationCommands: Record<string, Command> = {
  'federation link': {
    usage: 'federation link <username> (--entra-tenant TID --entra-oid OID | --issuer ISS --subject SUB)',
    help: 'Links an upstream identity (an Entra user, a broker\'s subject) to a user here: MFA-only sign-ins from it become this user\'s.',
    options: identityOptions,
    async run(ctx, [username], opts) {
      const account = await accountNamed(ctx, username);
      const { issuer, subject } = identity(opts);
      if (!(await links(ctx).link(issuer, subject, account.id))) {
        const existing = await links(ctx).find(issuer, subject);
        throw Object.assign(new Error(`that identity is already linked${existing?.accountId === account.id ? ' to this user' : ' to another user'}; unlink it first`), { code: 'conflict' });
      }
      await ctx.audit.record({ type: 'federation.link', accountId: account.id, detail: { by: 'admin-cli', issuer, subject } });
      ctx.out(`linked ${issuer} ${subject} to ${account.username}`);
    },
  },
  'federation unlink': {
    usage: 'federation unlink (--entra-tenant TID --entra-oid OID | --issuer ISS --subject SUB)',
    help: 'Removes a link: sign-ins from that upstream identity are refused until it is linked again, and the user\'s sessions, grants and tokens end.',
    options: identityOptions,
    async run(ctx, _args, opts) {
      const { issuer, subject } = identity(opts);
      const existing = await links(ctx).find(issuer, subject);
      if (!existing || !(await links(ctx).unlink(issuer, subject))) throw Object.assign(new Error('no such link'), { code: 'not_found' });
      // What the upstream identity was given through the link ends with it, as with a revoked device
      // (red-team: a broker's code issued before the unlink, a wrong link, still gave tokens after it).
      const ended = await ctx.endSessions(existing.accountId);
      await ctx.audit.record({ type: 'federation.unlink', accountId: existing.accountId, detail: { by: 'admin-cli', issuer, subject, ...ended } });
      ctx.out(`unlinked ${issuer} ${subject}; ${signedOut(ended)}`);
    },
  },
  'federation list': {
    usage: 'federation list <username>',
    help: 'Lists the upstream identities linked to a user.',
    async run(ctx, [username]) {
      const account = await accountNamed(ctx, username);
      for (const l of await links(ctx).listByAccount(account.id)) ctx.out(tableRow([l.issuer, l.subject, l.createdAt.toISOString()]));
    },
  },
};
