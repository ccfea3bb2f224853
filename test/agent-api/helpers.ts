/**
 * The agent API's tests drive it over HTTP as a gateway would (docs/agent-api.md), against the
 * real IdP (test/support/idp.ts) with the simulated authenticator and the local push service.
 */
import { PushWorld } from '../support/push-world.js';
import { addUser, enroll, startWorld, type Phone } from '../signin/helpers.js';

/** With + / = (base64's own characters): Bearer takes it as it is, Basic also form-encoded. */
export const GATEWAY_SECRET = 'gw+secret/0123456789abcdefghijklmnopqrstuv==';
export const MATCHING_SECRET = 'gw-matching-secret-0123456789abcdefghijklmn';
export const OTHER_SECRET = 'gw-other-secret-0123456789abcdefghijklmnopq';
export const FENCED_SECRET = 'gw-fenced-secret-0123456789abcdefghijklmnop';

/** A gateway without number matching (it may wait), one with it (always a transaction), another gateway, and one only reachable from 10/8. */
export const AGENTS = [
  { id: 'vpn', name: 'Corporate VPN', secret_env: 'GW_VPN_SECRET', login: { numberMatching: false }, max_wait_seconds: 20 },
  { id: 'vpn-matching', name: 'Branch VPN', secret_env: 'GW_MATCHING_SECRET', login: { numberMatching: true }, max_wait_seconds: 20 },
  { id: 'other-gateway', name: 'Other gateway', secret_env: 'GW_OTHER_SECRET', login: { numberMatching: false }, max_wait_seconds: 2 },
  { id: 'fenced', name: 'Fenced gateway', secret_env: 'GW_FENCED_SECRET', allowed_networks: ['10.0.0.0/8'] },
];

export const AGENT_ENV = {
  GW_VPN_SECRET: GATEWAY_SECRET,
  GW_MATCHING_SECRET: MATCHING_SECRET,
  GW_OTHER_SECRET: OTHER_SECRET,
  GW_FENCED_SECRET: FENCED_SECRET,
};

export function startAgentWorld(opts: { env?: Record<string, string>; now?: () => number; agents?: Record<string, unknown>[] } = {}): Promise<PushWorld> {
  return startWorld({
    idp: {
      agents: opts.agents ?? AGENTS,
      env: { ...AGENT_ENV, ...opts.env },
      ...(opts.now ? { idp: { now: opts.now } } : {}),
    },
  });
}

export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
export const VPN = basic('vpn', GATEWAY_SECRET);
export const MATCHING = basic('vpn-matching', MATCHING_SECRET);
export const OTHER = basic('other-gateway', OTHER_SECRET);

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** One call as a gateway makes it; `body` is sent as JSON unless it is a string or bytes. */
export async function call(
  w: PushWorld,
  method: string,
  path: string,
  opts: { auth?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  const auth = opts.auth === undefined ? VPN : opts.auth;
  if (auth) headers.authorization = auth;
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : opts.body instanceof Uint8Array ? (opts.body as Uint8Array<ArrayBuffer>) : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${w.t.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

export const authenticate = (w: PushWorld, body: Record<string, unknown>, auth?: string | null) =>
  call(w, 'POST', '/api/agent/authenticate', { body, auth: auth === undefined ? VPN : auth });

let userCount = 0;
/** A fresh user with alice's password and (unless `phone: false`) an enrolled phone with push: no test shares counters. */
export async function freshUser(w: PushWorld, opts: { phone?: boolean } = {}): Promise<{ username: string; accountId: string; phone: Phone | null }> {
  const username = `gw-user-${++userCount}-${Math.random().toString(36).slice(2, 8)}`;
  const accountId = await addUser(w, username);
  const phone = opts.phone === false ? null : await enroll(w, { accountId });
  return { username, accountId, phone };
}

let ipCount = 0;
/** A distinct end-user address per test (the gateway passes it as client_ip), so per-IP counters never meet. */
export const freshIp = () => `198.51.100.${(++ipCount % 250) + 1}`;

export const PASSWORD = PushWorld.password;
