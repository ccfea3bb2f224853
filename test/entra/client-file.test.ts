import { describe, expect, it } from '@jest/globals';
import { parseClient } from '../../src/config/clients.js';
import { chooseUpstreamAcr } from '../../src/oidc/upstream-acr.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const entra = (upstream: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  client_id: 'app-id', client_name: 'Microsoft Entra ID',
  redirect_uris: ['https://login.microsoftonline.com/common/federation/externalauthprovider'],
  upstream: { profile: 'entra', tenants: [TENANT], ...upstream }, ...extra,
});
const parse = (raw: unknown) => parseClient('clients/entra.json', raw, {});

/** The client file of an MFA-only app (docs/entra.md), checked at start with the field named. */
describe('client file: upstream and id_token_profile_claims', () => {
  it('an Entra client answers id_token by form post, pairwise, RS256, without a consent page', () => {
    const c = parse(entra());
    expect(c.metadata).toMatchObject({ response_types: ['id_token'], grant_types: ['implicit'], subject_type: 'pairwise', id_token_signed_response_alg: 'RS256', token_endpoint_auth_method: 'none' });
    expect(c.metadata).not.toHaveProperty('upstream');
    expect(c.login.consent).toBe('implicit');
    expect(c.upstream).toMatchObject({ profile: 'entra', tenants: [TENANT], jwksUri: 'https://login.microsoftonline.com/common/discovery/v2.0/keys', maxAgeSeconds: 300, algorithms: ['RS256'] });
    expect(c.idTokenProfileClaims).toBeUndefined();
  });

  it.each([
    [entra({ tenants: [] }), 'upstream.tenants'],
    [entra({ tenants: ['contoso.onmicrosoft.com'] }), 'upstream.tenants.0'],
    [entra({ jwks_uri: 'http://keys.example/keys' }), 'upstream.jwks_uri'],
    [entra({ max_age_seconds: 86400 }), 'upstream.max_age_seconds'],
    [entra({ issuer: 'https://login.microsoftonline.com/x/v2.0' }), 'upstream.issuer'],
    [entra({ typo: 1 }), 'upstream.typo'],
    [entra({ profile: 'adfs' }), 'upstream.profile'],
    [entra({}, { response_types: ['code'] }), 'response_types'],
    [entra({}, { id_token_signed_response_alg: 'ES256' }), 'id_token_signed_response_alg'],
    [entra({}, { redirect_uris: ['https://login.microsoftonline.com/common/federation/externalauthprovider', 'https://login.microsoftonline.us/common/federation/externalauthprovider'] }), 'redirect_uris'],
    [{ ...entra(), upstream: { profile: 'generic', jwks_uri: 'https://kc.example/certs' } }, 'upstream.issuer'],
    [{ ...entra(), upstream: { profile: 'generic', issuer: 'https://kc.example/realms/x' } }, 'upstream.jwks_uri'],
    [{ ...entra(), id_token_profile_claims: 'yes' }, 'id_token_profile_claims'],
  ])('refuses a bad file, naming the field (%#)', (raw, field) => {
    expect(() => parse(raw)).toThrow(new RegExp(`clients/entra\\.json: ${field.replace(/\./g, '\\.')}: `));
  });

  it('a broker (generic profile) keeps its own flow; auto-link by a claim is its choice', () => {
    const c = parseClient('clients/kc.json', {
      client_id: 'keycloak', redirect_uris: ['https://kc.example/realms/x/broker/pushotp/endpoint'], client_secret_env: 'KC_SECRET',
      upstream: { profile: 'generic', issuer: 'https://kc.example/realms/x', jwks_uri: 'https://kc.example/realms/x/protocol/openid-connect/certs', link_claim: 'preferred_username' },
    }, { KC_SECRET: 'k'.repeat(40) });
    expect(c.metadata.response_types).toBeUndefined();
    expect(c.upstream).toMatchObject({ profile: 'generic', issuer: 'https://kc.example/realms/x', linkClaim: 'preferred_username', algorithms: ['RS256', 'PS256', 'ES256'] });
  });

  it('id_token_profile_claims: true is carried to the registration', () => {
    expect(parse({ client_id: 'a', redirect_uris: ['https://a.example/cb'], id_token_profile_claims: true }).idTokenProfileClaims).toBe(true);
  });
});

describe('the acr an MFA-only answer may carry', () => {
  const amr = { essential: true, values: ['fido', 'otp', 'sms'] };
  const claims = (acr: unknown, a: unknown = amr) => JSON.stringify({ id_token: { acr, amr: a } });
  it.each([
    [claims({ essential: true, values: ['possessionorinherence'] }), { ok: true, acr: 'possessionorinherence' }],
    [claims({ essential: true, values: ['knowledge', 'knowledgeorpossession', 'possession'] }), { ok: true, acr: 'knowledgeorpossession' }],
    [claims({ essential: true, values: ['knowledge', 'inherence', 'knowledgeorinherence'] }), { ok: false, reason: 'acr' }],
    [claims({ essential: true, value: 'urn:pushotp:acr:mfa' }), { ok: true, acr: 'urn:pushotp:acr:mfa' }],
    [claims({ essential: true, values: ['possession'] }, { essential: true, values: ['face'] }), { ok: false, reason: 'amr' }],
    [undefined, { ok: true, acr: undefined }],
    ['{not json', { ok: false, reason: 'claims' }],
  ])('%s', (param, expected) => {
    expect(chooseUpstreamAcr(param, undefined, 'urn:pushotp:acr:mfa')).toEqual(expected);
  });
  it('a sub asked for by a value that is not text is refused before any push', () => {
    const sub = (value: unknown) => JSON.stringify({ id_token: { sub: { value } } });
    expect(chooseUpstreamAcr(sub(5), undefined, 'x')).toEqual({ ok: false, reason: 'claims' });
    expect(chooseUpstreamAcr(sub({ a: 1 }), undefined, 'x')).toEqual({ ok: false, reason: 'claims' });
    expect(chooseUpstreamAcr(sub('someone'), undefined, 'x')).toEqual({ ok: true, acr: undefined });
  });
  it('acr_values count as asked', () => {
    expect(chooseUpstreamAcr(undefined, 'knowledge possession', 'x')).toEqual({ ok: true, acr: 'possession' });
    expect(chooseUpstreamAcr(undefined, 'knowledge', 'x')).toEqual({ ok: false, reason: 'acr' });
  });
  // OIDC Core 5.5.1.1 (red-team, broker round: an essential knowledge beside acr_values=possession was answered possession).
  it('an essential acr is met from its own values: acr_values do not stand in for it', () => {
    const essential = (values: string[]) => JSON.stringify({ id_token: { acr: { essential: true, values } } });
    expect(chooseUpstreamAcr(essential(['knowledge']), 'possession', 'x')).toEqual({ ok: false, reason: 'acr' });
    expect(chooseUpstreamAcr(essential(['knowledge', 'possessionorinherence']), 'possession', 'x')).toEqual({ ok: true, acr: 'possessionorinherence' });
    // Essential as oidc-provider reads it: any truthy `essential` (red-team, broker round: `1` and
    // `"true"` were read as voluntary, and acr_values=possession answered an essential knowledge).
    const loosely = (essential: unknown, acr: Record<string, unknown>) => JSON.stringify({ id_token: { acr: { essential, ...acr } } });
    expect(chooseUpstreamAcr(loosely(1, { values: ['knowledge'] }), 'possession', 'x')).toEqual({ ok: false, reason: 'acr' });
    expect(chooseUpstreamAcr(loosely('true', { values: ['knowledge'] }), 'possession', 'x')).toEqual({ ok: false, reason: 'acr' });
    expect(chooseUpstreamAcr(loosely(1, { values: ['possession'] }), undefined, 'x')).toEqual({ ok: true, acr: 'possession' });
    // Values that can never be met: not text, or a value outside its own values.
    expect(chooseUpstreamAcr(loosely(true, { value: 5, values: ['possession'] }), undefined, 'x')).toEqual({ ok: false, reason: 'acr' });
    expect(chooseUpstreamAcr(loosely(true, { values: [] }), 'possession', 'x')).toEqual({ ok: false, reason: 'acr' });
    expect(chooseUpstreamAcr(loosely(true, { value: 'possession', values: ['knowledge'] }), undefined, 'x')).toEqual({ ok: false, reason: 'acr' });
    // Values that are not a list, even one shaped like an array (red-team: it was skipped and
    // acr_values chose possession): nothing meets them.
    expect(chooseUpstreamAcr(loosely(true, { values: { 0: 'possession', length: 1 } }), 'possession', 'x')).toEqual({ ok: false, reason: 'acr' });
    expect(chooseUpstreamAcr(loosely(true, { values: 'possession' }), 'possession', 'x')).toEqual({ ok: false, reason: 'acr' });
    // Essential with nothing named: any acr meets it; acr_values choose.
    expect(chooseUpstreamAcr(loosely(true, {}), 'possession', 'x')).toEqual({ ok: true, acr: 'possession' });
    // Not essential: pooled with acr_values, as before.
    expect(chooseUpstreamAcr(JSON.stringify({ id_token: { acr: { values: ['knowledge'] } } }), 'possession', 'x')).toEqual({ ok: true, acr: 'possession' });
  });
});
