import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { AdapterFactory } from './refresh-prefetch.js';

/**
 * An Interaction read from Redis together with something else the same request needed (one
 * script instead of two round trips, issue 15), handed to oidc-provider's next Interaction.find of
 * that id in that request, which then does not read it again:
 * - a page of ours reads it with its sign-in's state (src/interaction/load.ts interactionWithState,
 *   src/signin/state.ts readBeside): `handingOver`;
 * - the resume reads it with its claim (src/oidc/resume-once.ts): `handOverTo`.
 * oidc-provider's own destroy of an interaction is left as it is, at its place in the resume.
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
 * Whether oidc-provider's resume destroyed the interaction a claimed resume names (resume-once.ts
 * keeps its answer for the other loads of that resume only then: an answer given while the
 * interaction lives on, such as the sign-out form of an account switch, is not the resume's last).
 */
const destroyWatch = new WeakMap<object, { id: string; destroyed: boolean }>();

/** Notes, for request `req`, whether interaction `id` gets destroyed. */
export function watchDestroy(req: object, id: string): void {
  destroyWatch.set(req, { id, destroyed: false });
}

/** Whether the interaction watched in this request was destroyed (once: the watch ends). */
export function destroyedIn(req: object): boolean {
  const watched = destroyWatch.get(req);
  destroyWatch.delete(req);
  return watched?.destroyed === true;
}

/**
 * Interaction.find takes a hand-over of its id when there is one (with `jti`, as the Redis adapter
 * restores it), and a watched destroy is noted (above); `currentRequest`: the Node request
 * oidc-provider is serving (undefined outside one).
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
      async destroy(id: string) {
        await inner.destroy(id);
        const req = currentRequest();
        const watched = req ? destroyWatch.get(req) : undefined;
        if (watched?.id === id) watched.destroyed = true;
      },
    });
  };
}
