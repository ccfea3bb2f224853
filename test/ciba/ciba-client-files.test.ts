import { describe, expect, it } from '@jest/globals';
import { parseClient } from '../../src/config/clients.js';
import { ConfigError } from '../../src/config/settings.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { canonicalUrl, notificationFetch, pingTarget } from '../../src/ciba/notify-fetch.js';
import { CIBA_GRANT, CIBA_SECRET, cibaClient } from './world.js';

/**
 * Registering a CIBA app (docs/ciba.md): a file with a mistake stops the start naming the file and
 * the field, before any request could go wrong; a good one needs no redirect URI.
 */
const env = { CIBA_SECRET };

function fieldOf(raw: Record<string, unknown>): string {
  try {
    parseClient('ciba.json', raw, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError & { field: string }).field;
  }
  throw new Error('expected a ConfigError');
}

describe('CIBA client files', () => {
  it('a poll client needs no redirect URI and gets no response type; the user code stays off', () => {
    const { metadata } = parseClient('ciba.json', cibaClient('c1', 'poll'), env);
    expect(metadata).toMatchObject({ grant_types: [CIBA_GRANT], backchannel_token_delivery_mode: 'poll', redirect_uris: [], response_types: [], backchannel_user_code_parameter: false, token_endpoint_auth_method: 'client_secret_basic' });
  });

  it('a ping endpoint over plain http is accepted only on this host, and handed to oidc-provider as https', () => {
    const reg = parseClient('ciba.json', cibaClient('c2', 'ping', { backchannel_client_notification_endpoint: 'http://127.0.0.1:8080/cb' }), env);
    expect(reg.metadata.backchannel_client_notification_endpoint).toBe('https://127.0.0.1:8080/cb');
    expect(reg.loopbackNotificationEndpoint).toBe('http://127.0.0.1:8080/cb');
    expect(fieldOf(cibaClient('c3', 'ping', { backchannel_client_notification_endpoint: 'http://app.example.com/cb' }))).toBe('backchannel_client_notification_endpoint');
    const https = parseClient('ciba.json', cibaClient('c4', 'ping', { backchannel_client_notification_endpoint: 'https://app.example.com/cb' }), env);
    expect(https.metadata.backchannel_client_notification_endpoint).toBe('https://app.example.com/cb');
    expect(https.loopbackNotificationEndpoint).toBeUndefined();
  });

  it.each([
    ['no delivery mode', { ...cibaClient('x', 'poll'), backchannel_token_delivery_mode: undefined }, 'backchannel_token_delivery_mode'],
    ['an unknown delivery mode', cibaClient('x', 'push' as 'poll'), 'backchannel_token_delivery_mode'],
    ['ping without an endpoint', cibaClient('x', 'ping'), 'backchannel_client_notification_endpoint'],
    ['poll with an endpoint', cibaClient('x', 'poll', { backchannel_client_notification_endpoint: 'https://a.example/cb' }), 'backchannel_client_notification_endpoint'],
    ['a public client', { ...cibaClient('x', 'poll'), client_secret_env: undefined, token_endpoint_auth_method: 'none' }, 'token_endpoint_auth_method'],
    ['the user code on', cibaClient('x', 'poll', { backchannel_user_code_parameter: true }), 'backchannel_user_code_parameter'],
    ['CIBA fields without the grant', { client_id: 'x', client_secret_env: 'CIBA_SECRET', redirect_uris: ['https://a.example/cb'], backchannel_token_delivery_mode: 'poll' }, 'backchannel_token_delivery_mode'],
    ['no redirect URI for a browser app', { client_id: 'x', client_secret_env: 'CIBA_SECRET' }, 'redirect_uris'],
  ])('%s: the start stops, naming the field', (_what, raw, field) => {
    expect(fieldOf(JSON.parse(JSON.stringify(raw)) as Record<string, unknown>)).toBe(field);
  });

  // Red-team (hostile input round 3): a jwks_uri written without a path missed the allowance (oidc-
  // provider fetches the canonical form), and a 302 from the registered address led the unguarded
  // fetch anywhere.
  it('a registered address is matched in the form oidc-provider fetches it, and its fetch follows no redirect', async () => {
    const written = 'http://10.0.0.5:8080';
    const registered = new Map([[canonicalUrl(written), canonicalUrl(written)]]);
    expect(pingTarget(new URL(written).href, registered)).toEqual({ url: 'http://10.0.0.5:8080/', mayReachPrivate: true });
    const hits: string[] = [];
    const target = createServer((req, res) => { hits.push(req.url!); res.end('{"keys":[]}'); });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const redirector = createServer((_req, res) => { res.writeHead(302, { location: `http://localhost:${(target.address() as AddressInfo).port}/latest/meta-data/` }); res.end(); });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/jwks`;
      const res = await notificationFetch(new Map([[url, url]]))(url, { method: 'GET', dispatcher: undefined });
      expect(res.status).toBe(302);
      expect(hits).toEqual([]);
    } finally {
      target.close();
      redirector.close();
    }
  });

  it('pings reach a private address only at an exact endpoint an operator registered with a literal IP', () => {
    const registered = new Map([
      ['https://127.0.0.1:8080/cb', 'http://127.0.0.1:8080/cb'],
      ['https://10.0.0.5/cb', 'https://10.0.0.5/cb'],
      ['https://app.example.com/cb', 'https://app.example.com/cb'],
    ]);
    expect(pingTarget('https://127.0.0.1:8080/cb', registered)).toEqual({ url: 'http://127.0.0.1:8080/cb', mayReachPrivate: true });
    expect(pingTarget('https://10.0.0.5/cb', registered)).toEqual({ url: 'https://10.0.0.5/cb', mayReachPrivate: true });
    expect(pingTarget('https://app.example.com/cb', registered)).toEqual({ url: 'https://app.example.com/cb', mayReachPrivate: false });
    expect(pingTarget('https://10.0.0.5/other', registered)).toEqual({ url: 'https://10.0.0.5/other', mayReachPrivate: false });
    expect(pingTarget('https://169.254.169.254/latest', registered).mayReachPrivate).toBe(false);
  });
});
