import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../storage/db.js';
import { payloadRow, upsertRows, type Clock, type PayloadRow } from './adapters.js';
import type { AdapterFactory } from './refresh-prefetch.js';

/**
 * A sign-in's resume writes two rows of oidc_payloads one after the other: its Grant (our
 * loadExistingGrant, provider.ts) and, when the request ends, the browser's Session (oidc-provider's
 * session middleware). Here a Grant saved inside one of oidc-provider's requests waits for that
 * request's signed-in Session save and goes in its statement: one SQL round trip instead of two
 * (issue 15, bench/signin-throughput.ts). A single sign-on into another app (a new grant, the
 * session saved again) is written the same way.
 *
 * Nothing outlives the request: the waiting row is kept on that request's context (`current()`,
 * oidc-provider's own), a Grant.find in the same request answers from it, and `flush(ctx)`, called
 * as the request leaves oidc-provider and before any answer is sent, writes whatever no Session
 * save took (an anonymous session, no session saved, an error on the way). A save made after that,
 * or outside a request, is written at once, as before. A write that fails fails its request, as
 * the Grant's own save did: no code or token leaves without its grant written.
 */
export interface GrantBesideSession {
  adapters: AdapterFactory;
  /** Writes the request's waiting grants (one statement); later saves in it are written at once. */
  flush(ctx: object): Promise<void>;
}

interface Waiting { row: PayloadRow; payload: AdapterPayload }

/**
 * The routes whose session middleware saves the browser's session as they end: the authorization
 * endpoint and the resume, where loadExistingGrant saves a grant. A grant saved anywhere else (a
 * CIBA approval continuing in the context of the request that began it, say) is written at once.
 */
const WITH_SESSION_SAVE = new Set(['authorization', 'resume']);
const routeOf = (ctx: object): unknown => (ctx as { oidc?: { route?: unknown } }).oidc?.route;

/** The one method of SessionAdapter (adapters.ts) used here: a save with rows beside it. */
type SessionWithBeside = Adapter & { upsert(id: string, payload: AdapterPayload, expiresIn: number, beside?: readonly PayloadRow[]): Promise<void> };

export function withGrantBesideSession(base: AdapterFactory, db: Db, current: () => object | undefined, now: Clock): GrantBesideSession {
  // Per request: grant id -> its row as its save made it, in save order (the last save of an id wins).
  const waiting = new WeakMap<object, Map<string, Waiting>>();
  const flushed = new WeakSet<object>();
  const take = (ctx: object): PayloadRow[] => {
    const rows = [...(waiting.get(ctx)?.values() ?? [])].map((w) => w.row);
    waiting.delete(ctx);
    return rows;
  };
  const adapters: AdapterFactory = (model) => {
    const inner = base(model);
    if (model === 'Grant') {
      return Object.assign(Object.create(inner) as Adapter, {
        async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
          const ctx = current();
          if (!ctx || flushed.has(ctx) || !WITH_SESSION_SAVE.has(routeOf(ctx) as string)) return inner.upsert(id, payload, expiresIn);
          let m = waiting.get(ctx);
          if (!m) waiting.set(ctx, (m = new Map()));
          m.delete(id);
          m.set(id, { row: payloadRow(model, id, payload, expiresIn, now()), payload: structuredClone(payload) });
        },
        async find(id: string) {
          const ctx = current();
          const w = ctx ? waiting.get(ctx)?.get(id) : undefined;
          return w ? { ...structuredClone(w.payload), jti: id } : inner.find(id);
        },
        async destroy(id: string) {
          const ctx = current();
          if (ctx) waiting.get(ctx)?.delete(id);
          await inner.destroy(id);
        },
      });
    }
    if (model === 'Session') {
      const session = inner as SessionWithBeside;
      return Object.assign(Object.create(inner) as Adapter, {
        async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
          const ctx = current();
          const beside = ctx && typeof payload.accountId === 'string' && payload.accountId ? take(ctx) : [];
          await session.upsert(id, payload, expiresIn, beside);
        },
      });
    }
    return inner;
  };
  return {
    adapters,
    async flush(ctx) {
      flushed.add(ctx);
      await upsertRows(db, take(ctx));
    },
  };
}
