import { randomUUID, webcrypto } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

/**
 * A stand-in for Microsoft Entra ID as an External MFA caller (docs/entra.md), on 127.0.0.1:
 * its own RSA keys, a JWKS and a discovery document (issuer the literal `{tenantid}` template),
 * `id_token_hint`s signed RS256 and issued already expired (exp one second before iat, as Entra
 * does), the authorize request Entra POSTs, and its reply URL (https, as Entra's is: oidc-provider
 * requires https reply URLs for id_token responses), which records what the IdP posts back.
 *
 * `iss` of a hint is https://login.microsoftonline.com/{tid}/v2.0 as Entra's: the IdP checks that
 * text, and only the keys come from the stand-in.
 */
export const ENTRA_ACR_CLAIMS = {
  id_token: {
    acr: { essential: true, values: ['possessionorinherence'] },
    amr: { essential: true, values: ['face', 'fido', 'fpt', 'hwk', 'iris', 'otp', 'pop', 'retina', 'sc', 'sms', 'swk', 'tel', 'vbm'] },
  },
};

export interface HintOptions {
  tid?: string;
  oid?: string;
  sub?: string;
  aud?: string;
  /** Seconds; default now. */
  iat?: number;
  iss?: string;
  preferred_username?: string;
  /** Sign with another key under the current kid (a forged signature). */
  forge?: boolean;
  /** More claims (a broker's email, email_verified). */
  claims?: Record<string, unknown>;
}

interface Key { kid: string; privateKey: CryptoKey; publicJwk: JWK }

async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' } };
}

async function selfSignedTls(): Promise<{ key: string; cert: string }> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=127.0.0.1', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 24 * 3600_000),
    signingAlgorithm: alg, keys, extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`, cert: cert.toString('pem') };
}

const listen = (server: Server, host = '127.0.0.1') => new Promise<number>((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));
const readBody = async (req: IncomingMessage) => { const chunks: Buffer[] = []; for await (const c of req) chunks.push(c as Buffer); return Buffer.concat(chunks).toString('utf8'); };

export class EntraStandIn {
  /** What the IdP posted to the reply URL, oldest first. */
  readonly replies: Record<string, string>[] = [];
  /** How many times the JWKS was fetched. */
  jwksFetches = 0;
  /** The `issuer` member each key carries in the JWKS, as Entra's v2.0 key set gives it (null: none). */
  keyIssuer: string | null = 'https://login.microsoftonline.com/{tenantid}/v2.0';
  private key!: Key;
  private readonly forger: Key;
  private constructor(private readonly http: Server, private readonly https: Server, readonly keysUrl: string, readonly replyUrl: string, readonly startUrl: string, forger: Key) {
    this.forger = forger;
  }

  static readonly tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';

  static async start(): Promise<EntraStandIn> {
    const tls = await selfSignedTls();
    let self: EntraStandIn | null = null;
    const http = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/common/discovery/v2.0/keys') {
        self!.jwksFetches++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [{ ...self!.key.publicJwk, ...(self!.keyIssuer === null ? {} : { issuer: self!.keyIssuer }) }] }));
      } else if (url.pathname === '/common/v2.0/.well-known/openid-configuration') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0', jwks_uri: self!.keysUrl }));
      } else if (url.pathname === '/start') {
        // Entra's page that POSTs the authorize request to the external MFA provider.
        const action = url.searchParams.get('action')!;
        const fields = JSON.parse(url.searchParams.get('fields')!) as Record<string, string>;
        const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
        res.setHeader('content-type', 'text/html');
        res.end(`<!doctype html><title>Entra</title><form method="post" action="${esc(action)}">${Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('')}</form><script>document.forms[0].submit()</script>`);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    const https = createHttpsServer(tls, async (req, res) => {
      if (req.method === 'POST' && req.url === '/common/federation/externalauthprovider') {
        self!.replies.push(Object.fromEntries(new URLSearchParams(await readBody(req))));
        res.setHeader('content-type', 'text/html');
        res.end('<!doctype html><title>Entra</title><h1 id="entra-done">Back at Entra</h1>');
        return;
      }
      res.statusCode = 404;
      res.end();
    });
    const httpPort = await listen(http);
    const httpsPort = await listen(https);
    self = new EntraStandIn(http, https,
      `http://127.0.0.1:${httpPort}/common/discovery/v2.0/keys`,
      `https://127.0.0.1:${httpsPort}/common/federation/externalauthprovider`,
      // localhost: another site than the IdP's 127.0.0.1, as login.microsoftonline.com is.
      `http://localhost:${httpPort}/start`,
      await newKey());
    self.key = await newKey();
    return self;
  }

  /** Entra rolls its signing key: hints are signed with a new kid, and the JWKS lists only it. */
  async rotate(): Promise<void> {
    this.key = await newKey();
  }

  /** An id_token_hint as Entra issues it: RS256, by kid, exp one second before iat (already expired). */
  async hint(clientId: string, o: HintOptions = {}): Promise<string> {
    const tid = o.tid ?? EntraStandIn.tenant;
    const iat = o.iat ?? Math.floor(Date.now() / 1000);
    const key = o.forge ? this.forger : this.key;
    return new SignJWT({
      tid, oid: o.oid ?? randomUUID(), preferred_username: o.preferred_username ?? 'someone@contoso.example', ver: '2.0', name: 'Someone', ...o.claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: this.key.kid, typ: 'JWT' })
      .setIssuer(o.iss ?? `https://login.microsoftonline.com/${tid}/v2.0`)
      .setAudience(o.aud ?? clientId)
      .setSubject(o.sub ?? `pairwise-${randomUUID()}`)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat - 1)
      .sign(key.privateKey);
  }

  /** The form Entra POSTs to the IdP's authorization endpoint. */
  authorizeFields(clientId: string, hint: string, o: { claims?: unknown; nonce?: string; state?: string } = {}): Record<string, string> {
    return {
      scope: 'openid',
      response_type: 'id_token',
      response_mode: 'form_post',
      client_id: clientId,
      redirect_uri: this.replyUrl,
      nonce: o.nonce ?? randomUUID(),
      state: o.state ?? randomUUID(),
      id_token_hint: hint,
      claims: JSON.stringify(o.claims ?? ENTRA_ACR_CLAIMS),
      'client-request-id': randomUUID(),
      // Entra may add more; the IdP ignores what it does not know.
      'x-client-SKU': 'ID_NET8_0',
    };
  }

  /** The stand-in's page that makes the browser POST the authorize request, as Entra does. */
  startPage(authorizationEndpoint: string, fields: Record<string, string>): string {
    return `${this.startUrl}?${new URLSearchParams({ action: authorizationEndpoint, fields: JSON.stringify(fields) })}`;
  }

  async close(): Promise<void> {
    this.http.closeAllConnections();
    this.https.closeAllConnections();
    await Promise.all([new Promise((r) => this.http.close(r)), new Promise((r) => this.https.close(r))]);
  }
}

/** The fields of the auto-submitting form_post page the IdP answers with. */
export function formPostFields(html: string): { action: string; fields: Record<string, string> } {
  const action = html.match(/<form[^>]*action="([^"]+)"/)?.[1] ?? '';
  const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map(([, n, v]) => [n!, v!.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')]));
  return { action: action.replace(/&amp;/g, '&'), fields };
}
