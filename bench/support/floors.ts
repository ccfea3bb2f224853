/**
 * The sign-in benchmark's floors (issue 15, target 1: why 0.5x is missed, in numbers): in the same
 * run as the push sign-ins, password-only sign-ins (authorize -> login page -> password -> resume
 * -> callback -> token) through
 *   - our IdP, for a relying app whose policy lets an account without an authenticator in with its
 *     password (what our sign-in costs before any second factor), and
 *   - a bare oidc-provider with the same adapters and key and the least login
 *     (bench/support/bare-login.ts: what oidc-provider itself costs around the same argon2id).
 * Both on the same accounts (the same PostgreSQL schema), without phones.
 */
import type http from 'node:http';
import { type BenchChild, cpuOver, usageDelta } from './child.js';
import { passwordSignIn } from './password-signin.js';
import { benchClient, PASSWORD, RP_CALLBACK, RP_SECRET, type World } from './world.js';

export const FLOOR_CLIENT_ID = 'bench-rp-pwd';

/** Our relying app for the floor: the benchmark's, but accounts without an authenticator sign in with the password. */
export function floorClient(): Record<string, unknown> {
  return { ...benchClient({ noDevice: 'password-only' }), client_id: FLOOR_CLIENT_ID, client_name: 'Bench RP (password only)' };
}

export interface Floor {
  name: string;
  child: BenchChild;
  clientId: string;
  m: { perCore: number[]; cpuMs: number[]; sql: number[]; redis: number[] };
  errors: number;
  errorSamples: string[];
}

export async function setUpFloors(world: World, ours: BenchChild, passwordHash: string, count: number): Promise<{ floors: Floor[]; usernames: string[] }> {
  const seeded = await ours.call<{ username: string }[]>({ cmd: 'seed', prefix: 'pw-', count, passwordHash, codes: false });
  const bare = await world.startBare({
    label: 'bare-login', accountLookup: true, login: true,
    client: {
      client_id: 'bench-rp', client_secret: RP_SECRET, redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], id_token_signed_response_alg: 'ES256', token_endpoint_auth_method: 'client_secret_basic',
    },
  });
  const floor = (name: string, child: BenchChild, clientId: string): Floor => ({ name, child, clientId, m: { perCore: [], cpuMs: [], sql: [], redis: [] }, errors: 0, errorSamples: [] });
  return {
    usernames: seeded.map((s) => s.username),
    floors: [floor('ours, password only', ours, FLOOR_CLIENT_ID), floor('bare oidc-provider, password only', bare, 'bench-rp')],
  };
}

/** `vus` virtual users signing in for `seconds`: the floor's figures for this run, and a line for the log. */
export async function runFloor(f: Floor, agent: http.Agent, usernames: readonly string[], vus: number, seconds: number): Promise<string> {
  let next = 0;
  let completed = 0;
  const go = async () => {
    const end = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: vus }, async () => {
      while (performance.now() < end) {
        const username = usernames[next++ % usernames.length]!;
        try {
          await passwordSignIn(agent, f.child.url, f.clientId, username, PASSWORD);
          completed++;
        } catch (err) {
          f.errors++;
          if (f.errorSamples.length < 3) f.errorSamples.push((err as Error).message.slice(0, 300));
        }
      }
    }));
  };
  const { cpuSeconds: [cpu], wallSeconds, before, after } = await cpuOver([f.child], go);
  const used = usageDelta(before[0]!, after[0]!);
  const n = Math.max(1, completed);
  f.m.perCore.push(completed / cpu!);
  f.m.cpuMs.push((cpu! * 1000) / n);
  f.m.sql.push(used.sql / n);
  f.m.redis.push(used.redis / n);
  return `${f.name}: ${completed} sign-ins in ${wallSeconds.toFixed(1)} s, ${(completed / cpu!).toFixed(1)}/core-s (${((cpu! * 1000) / n).toFixed(1)} ms CPU each), ${(used.sql / n).toFixed(1)} SQL, ${(used.redis / n).toFixed(1)} Redis per sign-in; errors ${f.errors}${f.errorSamples[0] ? ` (${f.errorSamples[0]})` : ''}`
    + (process.env.BENCH_COUNT_DETAIL === '1' ? `; by kind ${JSON.stringify(Object.fromEntries([...Object.entries(used.sqlByStatement), ...Object.entries(used.redisByCommand)].map(([k, v]) => [k, Math.round((v / n) * 10) / 10])))}` : '');
}
