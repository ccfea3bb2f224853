import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { AdapterFactory } from './refresh-prefetch.js';

/**
 * An Interaction read from Redis together with something else the same request needed (one
 * script instead of two round trips, issue 15), handed to oidc-provider's next Interaction.find of
 * that id in that request, which then does not read it again:
 * - a page of ours reads it with its sign-in's state (src/interaction/load.ts interactionWithState,
 *   src/signin/state.ts readBeside): `handingOver`;
 * - the resume reads it with its claim (src/oidc/resume-once.ts): `handOverTo`.
 * Either hands over what Redis held at that read, in the same request, moments before the find:
 * what the find itself would have read. Nothing outlives the request, and only the id read is served.
 */

/*
 * A page's hand-over lasts one synchronous stretch: `handingOver` sets it, calls oidc-provider's
 * interactionDetails, and clears it before returning. interactionDetails reaches the adapter's find
 * without awaiting anything first (it reads the interaction cookie, then Interaction.find calls
 * adapter.find), so no other request can run in between and take it. Should a version of
 * oidc-provider await before its find, the hand-over is cleared unused and find reads Redis as
 * always: the saving is lost, never the read's freshness. The id is the page's (its URL's uid); a
 * cookie naming another interaction is read the usual way, and the page then refuses the mismatch.
 */
let handed: Handed | null = null;
interface Handed { id: string; payload: AdapterPayload | undefined }

const parsed = (id: string, raw: string | null): Handed => ({ id, payload: raw === null ? undefined : (JSON.parse(raw) as AdapterPayload) });

/** `raw`: the interaction's stored JSON as the read found it (null: there was none). */
export function handingOver<T>(id: string, raw: string | null, call: () => T): T {
  handed = parsed(id, raw);
  try {
    return call();
  } finally {
    handed = null;
  }
}

/*
 * The resume's hand-over rides on the Node request (oidc-provider's ctx.req is the one our
 * middleware saw) until its find takes it; a request that never finds it drops it with itself.
 */
const byRequest = new WeakMap<object, Handed>();

export function handOverTo(req: object, id: string, raw: string | null): void {
  byRequest.set(req, parsed(id, raw));
}

/** The Interaction handed over for `id` in this request (`req`: its Node request), once; null when none was. */
export function takeHandedInteraction(id: string, req?: object): { payload: AdapterPayload | undefined } | null {
  if (handed?.id === id) {
    const { payload } = handed;
    handed = null;
    return { payload };
  }
  const mine = req ? byRequest.get(req) : undefined;
  if (mine?.id !== id) return null;
  byRequest.delete(req!);
  return { payload: mine.payload };
}

/*
 * The resume that claimed its interaction also deletes it in its closing write (resume-once.ts: the
 * claim's answer, or its release, and the interaction's DEL in one script): oidc-provider's destroy
 * of that interaction in that request is noted, not sent, and the closing write, which runs before
 * the answer leaves, makes it. Until then the claim keeps every other load of that resume waiting
 * (or, with other cookies, sent to oidc-provider only once the claim is settled, when the
 * interaction is gone with it), so no request can resume it meanwhile.
 */
const destroyLater = new WeakMap<object, { id: string; owed: boolean }>();

/** The claimed resume of interaction `id` in request `req` deletes it itself (see above). */
export function destroyWithClaim(req: object, id: string): void {
  destroyLater.set(req, { id, owed: false });
}

/** Whether oidc-provider destroyed the claimed interaction in this request: the closing write must delete it. Once. */
export function destroyOwed(req: object): boolean {
  const later = destroyLater.get(req);
  destroyLater.delete(req);
  return later?.owed === true;
}

/**
 * Interaction.find takes a hand-over of its id when there is one (with `jti`, as the Redis adapter
 * restores it), and destroy is left to a claimed resume's closing write (above); `currentRequest`:
 * the Node request oidc-provider is serving (undefined outside one).
 */
export function withInteractionHandoff(base: AdapterFactory, currentRequest: () => object | undefined): AdapterFactory {
  return (model) => {
    const inner = base(model);
    if (model !== 'Interaction') return inner;
    return Object.assign(Object.create(inner) as Adapter, {
      find(id: string) {
        const taken = takeHandedInteraction(id, currentRequest());
        if (taken) return Promise.resolve(taken.payload && { ...taken.payload, jti: id });
        return inner.find(id);
      },
      destroy(id: string) {
        const req = currentRequest();
        const later = req ? destroyLater.get(req) : undefined;
        if (later?.id !== id) return inner.destroy(id);
        later.owed = true;
        return Promise.resolve();
      },
    });
  };
}
