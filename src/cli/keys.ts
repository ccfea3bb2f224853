import type { KeyStatus } from '../keys/signing-rotation.js';
import { UsageError, type Command } from './commands.js';

/** What the keys commands need (src/cli/main.ts opens the database and the key-encryption key). */
export interface SigningKeysAdmin {
  list(): Promise<KeyStatus[]>;
  rotate(opts: { activateAfterMs: number; retireAfterMs: number; force: boolean }): Promise<KeyStatus[]>;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Pure: `90s`, `30m`, `24h`, `2d` or plain seconds, as milliseconds (0 to 30 days). */
export function parseDuration(raw: string, option: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(raw.trim());
  const ms = m ? Number(m[1]) * UNITS[m[2] || 's']! : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms > 30 * UNITS.d!) throw new UsageError(`--${option} must be a duration such as 90s, 30m, 24h or 2d (at most 30d)`);
  return ms;
}

const when = (ms: number | null) => (ms === null ? '-' : ms === 0 ? 'always' : new Date(ms).toISOString());

function table(rows: KeyStatus[]): string[] {
  return ['KID\tALG\tSTATE\tSIGNS FROM\tRETIRES AT', ...rows.map((r) => [r.kid, r.alg, r.state, when(r.signFrom), when(r.retireAt)].join('\t'))];
}

export const keysCommands: Record<string, Command> = {
  'keys list': {
    usage: 'keys list',
    help: 'Lists the OIDC signing keys: which sign now, which are published ahead of signing (next), and which are still published after being replaced (retiring).',
    async run(ctx) {
      for (const line of table(await ctx.signingKeys.list())) ctx.out(line);
    },
  },
  'keys rotate': {
    usage: 'keys rotate [--activate-after 24h] [--retire-after 24h] [--force]',
    help: 'Rotates the OIDC signing keys with overlap: a new RS256 and ES256 key are published in the JWKS now, sign after --activate-after, and the keys they replace leave the JWKS --retire-after later. Every running IdP process re-reads the keys at once (told through Redis; within a minute if it missed the message).',
    options: {
      'activate-after': { type: 'string', help: 'how long the new keys are published before they sign (default 24h: relying apps cache the JWKS)' },
      'retire-after': { type: 'string', help: 'how long the replaced keys stay published after that (default 24h: tokens they signed must still verify)' },
      force: { type: 'boolean', help: 'rotate although the previous rotation\'s keys do not sign yet' },
    },
    async run(ctx, _args, opts) {
      const activateAfterMs = parseDuration((opts['activate-after'] as string | undefined) ?? '24h', 'activate-after');
      const retireAfterMs = parseDuration((opts['retire-after'] as string | undefined) ?? '24h', 'retire-after');
      const rows = await ctx.signingKeys.rotate({ activateAfterMs, retireAfterMs, force: opts.force === true });
      await ctx.audit.record({ type: 'admin.keys.rotate', detail: { by: 'admin-cli', activateAfterMs, retireAfterMs, next: rows.filter((r) => r.state === 'next').map((r) => r.kid) } });
      ctx.out('rotated: the new keys are published now and sign from the time shown');
      for (const line of table(rows)) ctx.out(line);
    },
  },
};
