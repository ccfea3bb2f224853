import { createSign, createVerify, type KeyObject } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { SamlError } from './errors.js';

/**
 * Safe XML for SAML messages (docs/saml.md, "Defences"). One parser (@xmldom/xmldom, the one
 * version package.json's overrides force on xml-crypto and every other dependant) reads every message; a DOCTYPE (and so every
 * entity declaration) is refused before parsing; a signed message is read only from what
 * xml-crypto's getSignedReferences() returns, so a signature over one element cannot vouch for
 * another placed beside it (signature wrapping).
 */
export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
} as const;

export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SIGNATURE_ALGS: Record<string, string> = {
  [RSA_SHA256]: 'RSA-SHA256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'RSA-SHA512',
};

const DIGEST_ALGS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);

/**
 * The most elements an incoming request may hold. An AuthnRequest or LogoutRequest, signed with its
 * certificate in KeyInfo, has about 20; a few SessionIndex more. xml-crypto's checks walk the whole
 * document once per Reference and per certificate, synchronously (red-team: a forged signature with
 * 60 References over 3,500 empty elements, 800 bytes deflated, held the process for 33 s).
 */
export const MAX_REQUEST_ELEMENTS = 200;

/** Parses a message; refuses a DOCTYPE, a malformed document and anything the parser warns about. */
export function parseXml(xml: string): Document {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SamlError(400, 'doctype_refused', 'The SAML message holds a DOCTYPE declaration, which is never allowed.');
  let doc: Document;
  try {
    const fail = (msg: string) => { throw new Error(msg); };
    doc = new DOMParser({ errorHandler: { warning: fail, error: fail, fatalError: fail } }).parseFromString(xml, 'text/xml');
  } catch {
    throw new SamlError(400, 'malformed', 'The SAML message is not well-formed XML.');
  }
  if (doc.doctype) throw new SamlError(400, 'doctype_refused', 'The SAML message holds a DOCTYPE declaration, which is never allowed.');
  // Text with no element at all (hostile-input red-team: it was refused as a DOCTYPE).
  if (!doc.documentElement) throw new SamlError(400, 'malformed', 'The SAML message is not well-formed XML.');
  if (!onlyXmlChars(doc)) throw new SamlError(400, 'malformed', 'The SAML message holds a character XML does not allow (a control character, U+FFFE/U+FFFF or half a surrogate pair).');
  return doc;
}

// XML 1.0's Char production (section 2.2): no C0 control but tab, LF and CR, not U+FFFE or U+FFFF,
// no unpaired surrogate. xmldom decodes &#0; and the like without complaint, and a value read from
// the message may be echoed into what we sign (InResponseTo; red-team: a NUL in a request's ID came
// back inside a signed Response that is not well-formed XML).
// eslint-disable-next-line no-control-regex
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Pure: how many elements the document holds, counting up to `limit + 1` (iterative: documents nest deep). */
export function elementCount(doc: Document, limit: number): number {
  let count = 0;
  const stack: Node[] = [doc.documentElement!];
  while (stack.length && count <= limit) {
    const n = stack.pop()!;
    if (n.nodeType !== 1) continue;
    count++;
    for (let c = n.firstChild; c; c = c.nextSibling) stack.push(c);
  }
  return count;
}

/** Every attribute value and text of the document is made of XML characters (iterative: documents nest deep). */
function onlyXmlChars(doc: Document): boolean {
  const stack: Node[] = [doc.documentElement!];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.nodeType === 1) {
      const attrs = (n as Element).attributes;
      for (let i = 0; i < attrs.length; i++) if (NOT_XML_CHAR.test(attrs.item(i)!.value)) return false;
    } else if (n.nodeValue !== null && NOT_XML_CHAR.test(n.nodeValue)) {
      return false;
    }
    for (let c = n.firstChild; c; c = c.nextSibling) stack.push(c);
  }
  return true;
}

const XS_BLANK = new Set([' ', '\t', '\r', '\n']);

/**
 * Pure: an xs:boolean's value (true, false, 1 or 0 with the blanks XML Schema collapses), or null
 * when it is none. Trimmed by hand: a regex anchored at the end retries from every blank (red-team:
 * 30,000 blanks inside a ForceAuthn value, 440 bytes deflated, held the process for a second).
 */
export function xsBooleanOf(value: string): boolean | null {
  let start = 0;
  let end = value.length;
  while (start < end && XS_BLANK.has(value[start]!)) start++;
  while (end > start && XS_BLANK.has(value[end - 1]!)) end--;
  const v = value.slice(start, end);
  return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : null;
}

/** Direct children of `el` with this namespace and local name. */
export function children(el: Element, ns: string, name: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name) out.push(n as Element);
  }
  return out;
}

export const child = (el: Element, ns: string, name: string): Element | null => children(el, ns, name)[0] ?? null;
export const text = (el: Element | null): string | null => (el ? (el.textContent ?? '').trim() : null);

/**
 * An attribute's value, or null when the element does not carry it. xmldom's getAttribute answers
 * '' for a missing attribute (DOM Level 2), which would read an AuthnRequest without Destination as
 * one naming the wrong destination, and one without AssertionConsumerServiceURL as naming an
 * unregistered one.
 */
export const attr = (el: Element, name: string): string | null => (el.hasAttribute(name) ? el.getAttribute(name) : null);

/** PEM of a certificate given as PEM or bare base64 (whitespace allowed). */
export function certPem(cert: string): string {
  const b64 = cert.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * Verifies the one enveloped signature that is a direct child of the message's root, with the SP's
 * certificate only (KeyInfo in the message is ignored), and returns the signed element, parsed
 * again from xml-crypto's getSignedReferences(): the caller reads nothing else of the message.
 */
export function verifiedRoot(xml: string, doc: Document, certs: readonly string[]): Element {
  const root = doc.documentElement!;
  const sigs = children(root, NS.dsig, 'Signature');
  if (sigs.length !== 1) throw new SamlError(403, 'signature_invalid', 'The SAML message must carry exactly one signature on its root element.');
  const shape = signatureShapeProblem(sigs[0]!, attr(root, 'ID'));
  if (shape) throw new SamlError(403, 'signature_invalid', `The SAML message's signature is not a SAML signature: ${shape}.`);
  for (const cert of certs) {
    const sig = new SignedXml({ publicCert: certPem(cert), getCertFromKeyInfo: () => null });
    try {
      sig.loadSignature(sigs[0]!);
      if (!(sig.signatureAlgorithm && sig.signatureAlgorithm in SIGNATURE_ALGS) || sig.getReferences().some((r) => !DIGEST_ALGS.has(r.digestAlgorithm ?? ''))) {
        throw new SamlError(403, 'signature_invalid', 'The SAML message is signed with an algorithm we do not accept (RSA-SHA256 or RSA-SHA512 over SHA-256 or SHA-512 digests only).');
      }
      if (!sig.checkSignature(xml)) continue;
    } catch (err) {
      if (err instanceof SamlError) throw err;
      continue;
    }
    const signed = sig.getSignedReferences();
    if (signed.length !== 1) break;
    const el = parseXml(signed[0]!).documentElement!;
    if (el.namespaceURI !== root.namespaceURI || el.localName !== root.localName || el.getAttribute('ID') !== root.getAttribute('ID')) break;
    return el;
  }
  throw new SamlError(403, 'signature_invalid', 'The signature of the SAML message does not verify with the service provider\'s certificate.');
}

const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const C14N = new Set([
  'http://www.w3.org/2001/10/xml-exc-c14n#', 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
  'http://www.w3.org/TR/2001/REC-xml-c14n-20010315', 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments',
]);

/**
 * Pure: what makes a signature other than the one SAML core 5.4 describes, or null. Checked before
 * xml-crypto runs, since it digests every Reference (each an ID search over the document) before
 * it checks the signature over them: one Reference, to the root by its ID, enveloped-signature and
 * a canonicalization as its only transforms (red-team: many References made one forged request
 * cost seconds of blocked process).
 */
export function signatureShapeProblem(sig: Element, rootId: string | null): string | null {
  const signedInfo = children(sig, NS.dsig, 'SignedInfo');
  if (signedInfo.length !== 1) return 'it must have one SignedInfo';
  const c14n = children(signedInfo[0]!, NS.dsig, 'CanonicalizationMethod');
  if (c14n.length !== 1 || !C14N.has(attr(c14n[0]!, 'Algorithm') ?? '')) return 'its SignedInfo must name one canonicalization method of XML (exclusive) canonicalization';
  const refs = children(signedInfo[0]!, NS.dsig, 'Reference');
  if (refs.length !== 1) return 'it must have exactly one Reference (SAML core 5.4.2)';
  if (!rootId || attr(refs[0]!, 'URI') !== `#${rootId}`) return 'its Reference must point at the message by its ID';
  const transforms = children(refs[0]!, NS.dsig, 'Transforms').flatMap((t) => children(t, NS.dsig, 'Transform'));
  if (transforms.length > 2 || transforms.some((t) => { const a = attr(t, 'Algorithm') ?? ''; return a !== ENVELOPED && !C14N.has(a); })) {
    return 'its only transforms may be enveloped-signature and a canonicalization (SAML core 5.4.4)';
  }
  return null;
}

/**
 * HTTP-Redirect binding (SAML bindings 3.4.4.1): the signature covers the query parameters
 * exactly as they arrived, `SAMLRequest=..&RelayState=..&SigAlg=..`, in that order.
 */
export function verifyRedirectSignature(rawQuery: string, messageParam: 'SAMLRequest' | 'SAMLResponse', certs: readonly string[]): boolean {
  // Keyed by the decoded name, as the request is read (Koa's query): a parameter whose name is
  // percent-encoded (Relay%53tate) is the same parameter, never one outside the signature (red-team).
  const parts = new Map<string, string>();
  for (const p of rawQuery.split('&')) {
    const eq = p.indexOf('=');
    let name: string;
    try {
      name = decodeURIComponent((eq < 0 ? p : p.slice(0, eq)).replace(/\+/g, ' '));
    } catch {
      throw new SamlError(400, 'malformed', 'The query is not well-formed percent-encoding.');
    }
    if (parts.has(name)) throw new SamlError(400, 'malformed', 'The query repeats a parameter.');
    parts.set(name, p);
  }
  const sigAlg = parts.get('SigAlg');
  const signature = parts.get('Signature');
  if (!sigAlg || !signature) return false;
  const alg = SIGNATURE_ALGS[decodeURIComponent(sigAlg.slice('SigAlg='.length))];
  if (!alg) throw new SamlError(403, 'signature_invalid', 'SigAlg names an algorithm we do not accept (RSA-SHA256 or RSA-SHA512 only).');
  const signed = [parts.get(messageParam), parts.get('RelayState'), sigAlg].filter((p): p is string => p !== undefined);
  const sigBytes = Buffer.from(decodeURIComponent(signature.slice('Signature='.length)), 'base64');
  const verifies = (text: string) => certs.some((cert) => {
    try {
      return createVerify(alg).update(text).verify(certPem(cert), sigBytes);
    } catch {
      return false;
    }
  });
  // SAML bindings 3.4.4.1: the original encoding first. Then the same values re-encoded as SP
  // libraries sign them before their URL builder encodes the query again (node-saml signs
  // `a%20page` and `~()'` as they are, then sends `a+page` and `%7E%28%29%27`; red-team: such a
  // RelayState, a return URL as often as not, was refused 403). Each form encodes exactly the values
  // this IdP then reads, so a signature that verifies over either signs what is used.
  return verifies(signed.join('&')) || REENCODINGS.some((encode) => {
    const text = reencoded(signed, encode);
    return text !== null && verifies(text);
  });
}

/** encodeURIComponent, and application/x-www-form-urlencoded as URLSearchParams writes it. */
const REENCODINGS: ReadonlyArray<(v: string) => string> = [
  encodeURIComponent,
  (v) => new URLSearchParams({ v }).toString().slice(2),
];

/** Pure: `name=value` pairs with their values decoded and encoded again by `encode`; null if one does not decode. */
function reencoded(pairs: readonly string[], encode: (v: string) => string): string | null {
  try {
    return pairs.map((p) => {
      const eq = p.indexOf('=');
      return `${p.slice(0, eq)}=${encode(decodeURIComponent(p.slice(eq + 1).replace(/\+/g, ' ')))}`;
    }).join('&');
  } catch {
    return null;
  }
}

/** Signs for the HTTP-Redirect binding: returns the query string to append. */
export function signRedirect(params: { name: 'SAMLRequest' | 'SAMLResponse'; value: string; relayState?: string | null }, key: KeyObject | string): string {
  let q = `${params.name}=${encodeURIComponent(params.value)}`;
  if (params.relayState) q += `&RelayState=${encodeURIComponent(params.relayState)}`;
  q += `&SigAlg=${encodeURIComponent(RSA_SHA256)}`;
  return `${q}&Signature=${encodeURIComponent(createSign('RSA-SHA256').update(q).sign(key, 'base64'))}`;
}

/** Adds an enveloped RSA-SHA256 signature over the element with this ID, placed right after its Issuer. */
export function signElement(xml: string, localName: 'Assertion' | 'Response' | 'LogoutResponse', key: { privateKey: string; certificate: string }): string {
  const sig = new SignedXml({ privateKey: key.privateKey, publicCert: certPem(key.certificate), signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#' });
  const xpath = localName === 'Assertion' ? "//*[local-name(.)='Assertion']" : `/*[local-name(.)='${localName}']`;
  sig.addReference({
    xpath,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

/** Escapes text and attribute values for the XML we write. */
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
