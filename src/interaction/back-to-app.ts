import type { Context } from 'koa';
import type { InteractionDeps } from './deps.js';
import { ACCOUNT_CLIENT_ID } from '../selfservice/client-id.js';

/**
 * "Back to <app>" (issue 16, item 4): every page of a sign-in knows its app, and a sign-in that has
 * ended (expired, finished and revisited with Back, or cancelled) still leads the user back to the
 * app it came from instead of a dead end. The error edge (src/http/edge.ts) shows `ctx.state.app`
 * as the error page's link.
 */
export interface AppLink {
  name: string;
  /** The app's home: its `client_uri`, else the origin of its first redirect URI; null when neither is an http(s) URL. */
  url: string | null;
}

/**
 * A cookie naming the last app this browser signed in to; only ever looked up among the registered
 * clients, and signed with the cookie keys (review: it was written signed but read without its
 * signature, so any host that could set a cookie for the IdP could name another registered app).
 * Behind https it is __Host- prefixed: only the IdP's own host can set it (a sibling host can set a
 * __Secure- cookie with Domain=). Its path is `/`: the resume URL (`/auth/<uid>`) revisited after the
 * sign-in needs it too, and an issuer with a path (`https://example.com/idp`) is served from behind
 * a proxy that strips it, so a path written here would not be the browser's.
 */
const cookieName = (ctx: Context) => (ctx.secure ? '__Host-idp_app' : 'idp_app');

interface ClientLike { clientUri?: string | undefined; redirectUris?: readonly string[] | undefined; clientName?: string | undefined; clientId: string }

const httpUrl = (raw: unknown): URL | null => {
  if (typeof raw !== 'string') return null;
  try {
    const u = new URL(raw);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u : null;
  } catch {
    return null;
  }
};

/** Pure: where "Back to <app>" goes. */
export function appHome(client: ClientLike | undefined): string | null {
  if (!client) return null;
  const home = httpUrl(client.clientUri);
  if (home) return home.href;
  const redirect = httpUrl(client.redirectUris?.[0]);
  return redirect ? `${redirect.origin}/` : null;
}

/** This request's app, for the error page; remembered for a later visit of an ended sign-in. */
export function backToApp(ctx: Context, clientId: string, name: string, url: string | null): void {
  ctx.state.app = { name, url } satisfies AppLink;
  ctx.cookies.set(cookieName(ctx), encodeURIComponent(clientId), { httpOnly: true, sameSite: 'lax', path: '/', maxAge: 86_400_000, secure: ctx.secure, overwrite: true, signed: true });
}

/** Pure: the "Back to <app>" link of a registered client (the IdP's own account page in the page's words). */
export function appLinkOf(client: ClientLike, accountTitle: () => string): AppLink {
  return { name: client.clientId === ACCOUNT_CLIENT_ID ? accountTitle() : client.clientName ?? client.clientId, url: appHome(client) };
}

/** The paths of a sign-in's pages and of its resume: their error pages lead back to the app. */
const SIGN_IN_PATH = /^\/(interaction|auth)\//;

/**
 * For an error page that no handler gave an app (a 405 of a sign-in's form URL opened with GET, the
 * resume URL revisited after the sign-in): the app this browser last signed in to. Red-team (pages
 * round): those pages had no "Back to <app>" button, which docs/pages.md promises on every error
 * page of a sign-in.
 */
export async function appOfSignInPage(ctx: Context, deps: Pick<InteractionDeps, 'provider'>): Promise<void> {
  if (ctx.state.app || !SIGN_IN_PATH.test(ctx.path)) return;
  await rememberedApp(ctx, deps).catch(() => undefined);
}

/** The app this browser last signed in to, if it is still registered, as `ctx.state.app`. */
export async function rememberedApp(ctx: Context, deps: Pick<InteractionDeps, 'provider'>): Promise<void> {
  const raw = ctx.cookies.get(cookieName(ctx), { signed: true });
  if (!raw || raw.length > 300) return;
  let clientId: string;
  try {
    clientId = decodeURIComponent(raw);
  } catch {
    return;
  }
  const client = (await deps.provider.Client.find(clientId).catch(() => undefined)) as ClientLike | undefined;
  if (client) ctx.state.app = { name: client.clientName ?? client.clientId, url: appHome(client) } satisfies AppLink;
}
