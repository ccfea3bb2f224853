import type { Context } from 'koa';
import { SamlError } from './errors.js';
import { decodePost, decodeRedirect } from './messages.js';
import type { ServiceProvider } from './sp-config.js';
import { attr, child, elementCount, MAX_REQUEST_ELEMENTS, NS, parseXml, text, verifiedRoot, verifyRedirectSignature } from './xml.js';

/** RelayState is at most 80 bytes in SAML bindings 3.4.3; SPs in the wild send more: up to 1024 bytes (UTF-8) are kept. */
export const MAX_RELAY_STATE = 1024;

/** Pure: a RelayState this IdP carries back: a string of at most MAX_RELAY_STATE bytes (red-team: 1024 "€" were 3072). */
export const relayStateUsable = (relay: unknown): relay is string => typeof relay === 'string' && Buffer.byteLength(relay, 'utf8') <= MAX_RELAY_STATE;

/** The one Issuer Format a request may name (SAML profiles 4.1.4.1, 4.4.4.1). */
export const ENTITY_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity';

/**
 * The request's <saml:Issuer> text; its Format MUST be omitted or the entity format (SAML profiles
 * 4.1.4.1 for an AuthnRequest, 4.4.4.1 for a LogoutRequest): another is a 400 (red-team: only the
 * text was compared, and an Issuer naming a persistent NameID passed for the SP's entity ID).
 */
function issuerOf(el: Element, what: 'AuthnRequest' | 'LogoutRequest'): string | null {
  const issuer = child(el, NS.assertion, 'Issuer');
  const format = issuer ? attr(issuer, 'Format') : null;
  if (format !== null && format !== ENTITY_FORMAT) throw new SamlError(400, 'malformed', `The ${what}'s Issuer names a Format other than ${ENTITY_FORMAT} (SAML profiles 4.1.4.1: omit it or name that one).`);
  return text(issuer);
}

/**
 * A request as it arrived over HTTP-Redirect or HTTP-POST: its SP (by the Issuer, which only
 * picks the certificate to verify with), the element to read (the verified one when signed; a
 * signature is required where the SP signs) and the RelayState.
 */
export function readIncoming(ctx: Context, expect: 'AuthnRequest' | 'LogoutRequest', byEntity: ReadonlyMap<string, ServiceProvider>): { el: Element; sp: ServiceProvider; relayState: string | null; signed: boolean } {
  const param = 'SAMLRequest';
  const post = ctx.method === 'POST';
  const src = (post ? ctx.request.body : ctx.query) as Record<string, unknown>;
  const value = src[param];
  const relay = src.RelayState;
  if (typeof value !== 'string' || value === '') throw new SamlError(400, 'malformed', `The request carries no ${param}.`);
  if (relay !== undefined && !relayStateUsable(relay)) throw new SamlError(400, 'malformed', 'RelayState is not usable (at most 1024 bytes).');
  // SAML bindings 3.4.4.1: DEFLATE is the only encoding taken; another must be an error (red-team, samlify round: ignored).
  if (!post && ctx.query.SAMLEncoding !== undefined && ctx.query.SAMLEncoding !== 'urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE') {
    throw new SamlError(400, 'malformed', 'Only the DEFLATE encoding (SAMLEncoding) is understood.');
  }
  const xml = post ? decodePost(value) : decodeRedirect(value);
  const doc = parseXml(xml);
  if (elementCount(doc, MAX_REQUEST_ELEMENTS) > MAX_REQUEST_ELEMENTS) throw new SamlError(413, 'too_large', `The SAML message holds more than ${MAX_REQUEST_ELEMENTS} elements.`);
  const root = doc.documentElement!;
  if (root.namespaceURI !== NS.protocol || root.localName !== expect) throw new SamlError(400, 'malformed', `Expected a samlp:${expect}.`);
  // The Issuer names whose certificate to verify with; after verifying, only signed content is read.
  const sp = byEntity.get(issuerOf(root, expect) ?? '');
  if (!sp) throw new SamlError(403, 'unknown_sp', 'This service provider is not registered with this identity provider.');
  let el: Element = root;
  let verified = false;
  if (post) {
    const signed = child(root, NS.dsig, 'Signature') !== null;
    if (sp.requestsSigned && !signed) throw new SamlError(403, 'signature_required', 'This service provider signs its requests, and this one is not signed.');
    if (signed) {
      if (!sp.certificates.length) throw new SamlError(403, 'signature_invalid', 'The request is signed but no certificate is registered for this service provider.');
      el = verifiedRoot(xml, doc, sp.certificates);
      verified = true;
    }
  } else {
    // Any Signature or SigAlg makes it a signed request, to be verified (red-team, samlify round: a
    // Signature given twice read as none, and an SP that may send unsigned requests took it).
    const signed = ctx.query.Signature !== undefined || ctx.query.SigAlg !== undefined;
    if (sp.requestsSigned && !signed) throw new SamlError(403, 'signature_required', 'This service provider signs its requests, and this one is not signed.');
    if (signed && !(sp.certificates.length && verifyRedirectSignature(ctx.querystring, param, sp.certificates))) {
      throw new SamlError(403, 'signature_invalid', 'The signature of the request does not verify with the service provider\'s certificate.');
    }
    verified = signed;
  }
  if (issuerOf(el, expect) !== sp.entityId) throw new SamlError(403, 'unknown_sp', 'The signed request names another issuer.');
  return { el, sp, relayState: typeof relay === 'string' ? relay : null, signed: verified };
}
