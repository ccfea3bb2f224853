import { z } from 'zod';
import { shownName } from './shown-name.js';
import { ConfigError } from './settings.js';
import { upstreamSchema, upstreamTrust, type UpstreamTrust } from '../upstream/config.js';
import { readJsonFolder } from './json-folder.js';
import { PHONE_ONLY_ACR } from '../signin/amr.js';
import { SAML_CLIENT_PREFIX } from '../apps/registry.js';
import { ACCOUNT_CLIENT_ID } from '../selfservice/client-id.js';
import { clearTextUrl, isProduction } from './production.js';

/** How a relying app's users sign in; the `login` member of a client file. */
export interface LoginPolicy {
  /** 'two-step': password, then a page offering push or a passcode. 'single-form': username, password and passcode on one form. */
  form: 'two-step' | 'single-form';
  /** Show a 2-digit number at login that the user picks on the phone (3 choices). */
  numberMatching: boolean;
  /**
   * Duo's Verified Push: under number matching the phone shows no choices and the user types the
   * number seen at login (a guess is right 1 time in 90, not 1 in 3). Needs an authenticator that
   * knows `verifiedPush` (docs/device-api.md section 3); default false.
   */
  verifiedPush?: boolean | undefined;
  /**
   * The two-step form without its choice page: a correct password sends the push at once and shows
   * the waiting page, which still offers a passcode (as Microsoft Authenticator's default method,
   * Duo's "Automatically send this device a Duo Push" and Okta Verify's "Send push automatically"
   * do). Also an MFA-only sign-in's arrival from its upstream. Absent means false.
   */
  autoPush?: boolean | undefined;
  /** What to do for a user with no device: let the password alone through, or refuse. */
  noDevice: 'password-only' | 'refuse';
  /** 'explicit': show the consent page; 'implicit': first-party app, grant the requested scopes. */
  consent: 'explicit' | 'implicit';
  /** acr values reported per outcome. */
  acr: { mfa: string; password: string };
}

/** A relying app as registered in config/clients/*.json. */
export interface ClientRegistration {
  file: string;
  /** OIDC client metadata handed to oidc-provider (secrets resolved from the environment). */
  metadata: Record<string, unknown>;
  login: LoginPolicy;
  /**
   * An OpenID CIBA ping endpoint over plain http on this host, as the file gives it: oidc-provider
   * accepts only https ones, so it is handed the https spelling and src/ciba/notify-fetch.ts sends
   * the ping here.
   */
  loopbackNotificationEndpoint?: string;
  /** MFA-only mode: the first factor comes from this trusted upstream's id_token_hint (docs/entra.md). */
  upstream?: UpstreamTrust;
  /** Put the profile claims of the granted scopes in the ID token too (not only at userinfo). Default false. */
  idTokenProfileClaims?: boolean;
}

export const DEFAULT_ACR = { mfa: 'urn:pushotp:acr:mfa', password: 'urn:pushotp:acr:pwd' } as const;

/** The default for apps not registered through config/ (none today, but never undefined). */
export const DEFAULT_POLICY: LoginPolicy = {
  form: 'two-step',
  numberMatching: true,
  noDevice: 'password-only',
  consent: 'explicit',
  acr: { ...DEFAULT_ACR },
};

/** OpenID CIBA's grant type (CIBA Core 4). */
export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';

const uri = z.string().min(1).refine((v) => { try { new URL(v); return true; } catch { return false; } }, 'must be an absolute URL');

/** The `login` member of a relying app's file (a LoginPolicy); the SAML service providers' (src/saml/sp-config.ts, src/apps/registry.ts), the gateways' (config/agents.ts) and the RADIUS clients' (src/radius/clients.ts) files reuse it. */
export const loginPolicySchema = z.strictObject({
  form: z.enum(['two-step', 'single-form']).default('two-step'),
  numberMatching: z.boolean().default(true),
  // Absent means false: every default policy literal stays valid.
  verifiedPush: z.boolean().optional(),
  autoPush: z.boolean().optional(),
  noDevice: z.enum(['password-only', 'refuse']).default('password-only'),
  consent: z.enum(['explicit', 'implicit']).default('explicit'),
  // Distinct values, and not the phone-only one (red-team: an app whose mfa value was the phone-only
  // acr turned a bare CIBA approval into its mfa level; equal mfa and password values say nothing).
  acr: z.strictObject({ mfa: z.string().min(1), password: z.string().min(1) })
    .refine((a) => a.mfa !== a.password, 'mfa and password must be different values')
    .refine((a) => a.mfa !== PHONE_ONLY_ACR && a.password !== PHONE_ONLY_ACR, `${PHONE_ONLY_ACR} is the phone-only acr (docs/ciba.md): use another value`)
    .default({ ...DEFAULT_ACR }),
});

/**
 * Pure: what is wrong with `login.autoPush` in a policy, or null. It removes the two-step form's
 * choice page; the single form already sends a push when its passcode is left empty.
 */
export function autoPushProblem(login: Pick<LoginPolicy, 'form' | 'autoPush'>): string | null {
  return login.autoPush && login.form === 'single-form'
    ? 'applies to the two-step form only: the single form sends a push when its passcode is left empty'
    : null;
}

const clientFile = z.strictObject({
  $comment: z.string().optional(),
  client_id: z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'must be 1-128 URL-safe characters'),
  client_name: shownName(100).optional(),
  // The app's home page: where "Back to <app>" leads from an ended sign-in (src/interaction/back-to-app.ts).
  client_uri: uri.optional(),
  client_secret_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must name an environment variable').optional(),
  // Required unless the app signs in only through OpenID CIBA (cibaRules).
  redirect_uris: z.array(uri).min(1).optional(),
  post_logout_redirect_uris: z.array(uri).optional(),
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'implicit', 'client_credentials', CIBA_GRANT_TYPE])).optional(),
  response_types: z.array(z.enum(['code', 'id_token', 'code id_token', 'none'])).optional(),
  token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt']).optional(),
  id_token_signed_response_alg: z.enum(['RS256', 'ES256', 'PS256']).optional(),
  scope: z.string().optional(),
  jwks_uri: uri.optional(),
  // OpenID CIBA (docs/ciba.md): how the app learns the result, and where a ping goes.
  backchannel_token_delivery_mode: z.enum(['poll', 'ping']).optional(),
  backchannel_client_notification_endpoint: uri.optional(),
  backchannel_user_code_parameter: z.literal(false).optional(),
  /** MFA-only mode (docs/entra.md). */
  upstream: upstreamSchema.optional(),
  /** Profile claims of the granted scopes in the ID token as well (Auth.js, express-openid-connect read only the ID token). */
  id_token_profile_claims: z.boolean().default(false),
  login: loginPolicySchema.default({ form: 'two-step', numberMatching: true, noDevice: 'password-only', consent: 'explicit', acr: { ...DEFAULT_ACR } }),
});

/** Validates one parsed client file. Throws ConfigError naming the file and the field. */
export function parseClient(file: string, raw: unknown, env: NodeJS.ProcessEnv): ClientRegistration {
  const result = clientFile.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      const field = [...issue.path, key].join('.');
      if (key === 'client_secret') throw new ConfigError(file, field, 'secrets never go in the file: put it in an environment variable and name that in client_secret_env');
      throw new ConfigError(file, field, 'unknown field (a typo?)');
    }
    throw new ConfigError(file, issue.path.join('.') || '(file)', issue.message);
  }
  const reserved = reservedClientId(result.data.client_id);
  if (reserved) throw new ConfigError(file, 'client_id', reserved);
  if (isProduction(env)) refuseClearTextUrls(file, result.data);
  const { login, client_secret_env, $comment: _comment, upstream, id_token_profile_claims, ...metadata } = result.data;
  const autoPush = autoPushProblem(login);
  if (autoPush) throw new ConfigError(file, 'login.autoPush', autoPush);
  if (upstream?.profile === 'entra') entraClient(file, metadata, login);
  const method = metadata.token_endpoint_auth_method ?? (client_secret_env ? 'client_secret_basic' : 'none');
  const out: Record<string, unknown> = { ...metadata, token_endpoint_auth_method: method, ...cibaRules(file, metadata, method) };
  if (method === 'client_secret_basic' || method === 'client_secret_post' || method === 'client_secret_jwt') {
    if (!client_secret_env) throw new ConfigError(file, 'client_secret_env', `required for token_endpoint_auth_method ${method}`);
    const secret = env[client_secret_env];
    if (!secret) throw new ConfigError(file, 'client_secret_env', `environment variable ${client_secret_env} is not set`);
    if (secret.length < 32) throw new ConfigError(file, 'client_secret_env', `${client_secret_env} must be at least 32 characters`);
    out.client_secret = secret;
  } else if (client_secret_env) {
    throw new ConfigError(file, 'client_secret_env', `not used with token_endpoint_auth_method ${method}`);
  }
  const given = metadata.backchannel_client_notification_endpoint;
  const loopback = given !== undefined && given !== out.backchannel_client_notification_endpoint ? { loopbackNotificationEndpoint: given } : {};
  return {
    file, metadata: out, login, ...loopback,
    ...(upstream ? { upstream: upstreamTrust(upstream) } : {}),
    ...(id_token_profile_claims ? { idTokenProfileClaims: true } : {}),
  };
}

/**
 * Why an id is not for a file to take, or null. The IdP registers these clients itself: `saml.<id>`
 * for each SAML service provider (src/saml/internal-client.ts) and the self-service console's.
 * Red-team: a client file `saml.wiki` started, but the app registry leaves `saml.` ids to the SAML
 * SPs, so its login policy (noDevice: refuse, single-form) was silently replaced by the default.
 * Compared without case: the audit trail names apps by these ids, and look-alikes would mislead it.
 * Gateways of the agent API share the id space (src/config/agents.ts).
 */
export function reservedClientId(id: string): string | null {
  const lower = id.toLowerCase();
  if (lower.startsWith(SAML_CLIENT_PREFIX)) return `"${id}": ids starting with "${SAML_CLIENT_PREFIX}" are reserved for the SAML service providers' own clients (config/saml/); choose another id`;
  if (lower === ACCOUNT_CLIENT_ID) return `"${id}" is reserved for the self-service console (/account); choose another id`;
  return null;
}

/**
 * NODE_ENV=production: the URLs the IdP sends codes and tokens to, and the keys it trusts, must be
 * https (http only on 127.0.0.1, [::1] or localhost). OpenID Core 3.1.2.1 would allow http for a
 * confidential client, but a code, an ID token (implicit) or the state sent in clear can be read or
 * replaced on the way whatever the client's authentication, so every client is held to it (as the
 * OAuth 2.0 Security BCP, RFC 9700 2.1 and 4.1, and OAuth 2.1 do). Red-team: production started
 * a public client redirecting to http://wiki.example.com. A private-use scheme (a native app's
 * `com.example.app:/cb`, RFC 8252 7.1) is not http and stays allowed.
 */
function refuseClearTextUrls(file: string, m: Pick<z.infer<typeof clientFile>, 'redirect_uris' | 'post_logout_redirect_uris' | 'jwks_uri'>): void {
  const fields = [
    ...(m.redirect_uris ?? []).map((u, i) => [`redirect_uris.${i}`, u] as const),
    ...(m.post_logout_redirect_uris ?? []).map((u, i) => [`post_logout_redirect_uris.${i}`, u] as const),
    ...(m.jwks_uri ? [['jwks_uri', m.jwks_uri] as const] : []),
  ];
  for (const [field, u] of fields) {
    if (clearTextUrl(u)) throw new ConfigError(file, field, `must be https when NODE_ENV=production (http only on 127.0.0.1, [::1] or localhost): ${field === 'jwks_uri' ? 'the client\'s keys' : 'codes and tokens'} would cross the network in clear (got ${new URL(u).origin})`);
  }
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * OpenID CIBA rules a file must meet (CIBA Core 4 and 10.2), checked here so that the start names the
 * field: a delivery mode with the grant and only with it; a notification endpoint for ping (https,
 * or http on this host), and none for poll; a confidential client (the token request authenticates
 * it); no user code. An app that signs in only by CIBA needs no redirect URI and gets no response
 * type. Returns what goes into the metadata on top of the file's own fields.
 */
function cibaRules(file: string, m: Omit<z.infer<typeof clientFile>, 'login' | '$comment' | 'upstream' | 'id_token_profile_claims'>, method: string): Record<string, unknown> {
  const ciba = m.grant_types?.includes(CIBA_GRANT_TYPE) ?? false;
  const browser = (m.grant_types ?? ['authorization_code']).some((g) => g === 'authorization_code' || g === 'implicit');
  if (!m.redirect_uris && browser) throw new ConfigError(file, 'redirect_uris', 'required (unless grant_types has no authorization_code or implicit)');
  const cibaField = (['backchannel_token_delivery_mode', 'backchannel_client_notification_endpoint', 'backchannel_user_code_parameter'] as const).find((f) => m[f] !== undefined);
  if (!ciba) {
    if (cibaField) throw new ConfigError(file, cibaField, `only for a client whose grant_types include ${CIBA_GRANT_TYPE}`);
    return {};
  }
  if (!m.backchannel_token_delivery_mode) throw new ConfigError(file, 'backchannel_token_delivery_mode', `required with ${CIBA_GRANT_TYPE}: "poll" or "ping"`);
  if (method === 'none') throw new ConfigError(file, 'token_endpoint_auth_method', 'a CIBA client must authenticate (client_secret_env or private_key_jwt)');
  const endpoint = m.backchannel_client_notification_endpoint;
  if (m.backchannel_token_delivery_mode === 'ping') {
    if (!endpoint) throw new ConfigError(file, 'backchannel_client_notification_endpoint', 'required for the ping delivery mode');
    const url = new URL(endpoint);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
      throw new ConfigError(file, 'backchannel_client_notification_endpoint', 'must be https (http only on 127.0.0.1, [::1] or localhost)');
    }
    // Plain http on this host (as RFC 8252 7.3 allows loopback redirects): oidc-provider gets the
    // https spelling, and the ping goes to the address as written (ClientRegistration).
    if (url.protocol === 'http:') {
      url.protocol = 'https:';
      return { backchannel_user_code_parameter: false, backchannel_client_notification_endpoint: url.href, ...(m.redirect_uris ? {} : { redirect_uris: [] }), ...(!browser && !m.response_types ? { response_types: [] } : {}) };
    }
  } else if (endpoint) {
    throw new ConfigError(file, 'backchannel_client_notification_endpoint', 'only for the ping delivery mode');
  }
  return {
    backchannel_user_code_parameter: false,
    ...(m.redirect_uris ? {} : { redirect_uris: [] }),
    ...(!browser && !m.response_types ? { response_types: [] } : {}),
  };
}

/**
 * The Entra External MFA profile (docs/entra.md): Entra asks for an ID token by form post
 * (response_type id_token, no token endpoint) and wants back the `sub` of its own hint, which is
 * pairwise per app (src/oidc/upstream-subject.ts); it cannot show a consent page.
 */
function entraClient(file: string, metadata: Record<string, unknown>, login: LoginPolicy): void {
  const rt = metadata.response_types as string[] | undefined;
  if (rt && (rt.length !== 1 || rt[0] !== 'id_token')) throw new ConfigError(file, 'response_types', 'the entra profile answers with response_type id_token only');
  if (metadata.id_token_signed_response_alg && metadata.id_token_signed_response_alg !== 'RS256') throw new ConfigError(file, 'id_token_signed_response_alg', 'Entra accepts RS256 only');
  if (((metadata.redirect_uris as string[] | undefined) ?? []).length !== 1) throw new ConfigError(file, 'redirect_uris', 'the entra profile takes one reply URL (one client file per Microsoft cloud)');
  Object.assign(metadata, {
    response_types: ['id_token'], grant_types: ['implicit'], subject_type: 'pairwise', id_token_signed_response_alg: 'RS256',
  });
  login.consent = 'implicit';
}

/**
 * Loads every *.json under `dir` (sorted), rejecting duplicates (also of the folders loaded before
 * with the same `seen`: red-team, a client file taking the demo app's id was oidc-provider's stack
 * trace at start). A missing folder means no clients.
 * `${ISSUER}` in a file stands for the IdP's issuer URL.
 */
export function loadClients(dir: string, issuer: string, env: NodeJS.ProcessEnv = process.env, seen = new Map<string, string>()): ClientRegistration[] {
  return readJsonFolder(dir, (text) => text.replaceAll('${ISSUER}', issuer)).map(({ file, raw }) => {
    const client = parseClient(file, raw, env);
    const id = client.metadata.client_id as string;
    if (seen.has(id)) throw new ConfigError(file, 'client_id', `"${id}" is already registered by ${seen.get(id)}`);
    seen.set(id, file);
    return client;
  });
}

/** The part of oidc-provider's Provider that checks client metadata. */
interface ClientValidator {
  Client: { validate(metadata: Record<string, unknown>): Promise<void> };
}

/**
 * Runs every client through oidc-provider's own checks (`Client.validate`, the ones it would run
 * at the first sign-in), under this provider's configuration: enabled grant types, response
 * types, signing algorithms, redirect URI rules. A client it rejects stops the start, naming the
 * file and the field, instead of failing at sign-in.
 */
export async function validateClients(provider: ClientValidator, clients: readonly ClientRegistration[]): Promise<void> {
  for (const client of clients) {
    try {
      await provider.Client.validate(client.metadata);
    } catch (err) {
      const e = err as { error?: string; error_description?: string; message: string };
      if (e.error !== 'invalid_client_metadata' && e.error !== 'invalid_redirect_uri') throw err;
      const description = e.error_description ?? e.message;
      throw new ConfigError(client.file, fieldNamed(description, client.metadata), `refused by oidc-provider: ${description}`);
    }
  }
}

/**
 * oidc-provider's descriptions name the property first ("grant_types can only contain ...",
 * "id_token_signed_response_alg must be one of ..."): the field is the one named earliest.
 */
function fieldNamed(description: string, metadata: Record<string, unknown>): string {
  // "jwks or jwks_uri is mandatory": a client file can only give jwks_uri.
  description = description.replace(/\bjwks or jwks_uri\b/, 'jwks_uri');
  let best: { name: string; at: number } | null = null;
  for (const name of new Set([...Object.keys(metadata), 'jwks_uri'])) {
    const at = description.search(new RegExp(`(?<![a-z_])${name}(?![a-z_])`));
    if (at >= 0 && (!best || at < best.at || (at === best.at && name.length > best.name.length))) best = { name, at };
  }
  return best?.name === 'client_secret' ? 'client_secret_env' : best?.name ?? '(client)';
}
