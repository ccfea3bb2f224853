import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { SamlError } from './errors.js';
import type { Comparison, RequestedAuthnContext } from './authn-context.js';
import { NAMEID_FORMATS, type ServiceProvider } from './sp-config.js';
import { attr, child, children, esc, NS, text, xsBooleanOf } from './xml.js';

/** Largest SAML message we read, decoded (an AuthnRequest is a few KB; Microsoft 365's under 2 KB). */
export const MAX_MESSAGE_BYTES = 32 * 1024;
/** How far an IssueInstant may be from our clock. */
export const CLOCK_SKEW_MS = 3 * 60_000;
/** How long a request stays acceptable after its IssueInstant, and so how long its ID is remembered. */
export const REQUEST_MAX_AGE_MS = 10 * 60_000;
/** Lifetime of the assertions we issue. */
export const ASSERTION_TTL_MS = 5 * 60_000;

/** HTTP-Redirect: base64 of raw DEFLATE; inflating stops at MAX_MESSAGE_BYTES (no decompression bomb). */
export function decodeRedirect(value: string): string {
  if (value.length > MAX_MESSAGE_BYTES * 2) throw new SamlError(413, 'too_large', 'The SAML message is too large.');
  try {
    return inflateRawSync(Buffer.from(value, 'base64'), { maxOutputLength: MAX_MESSAGE_BYTES }).toString('utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw new SamlError(413, 'too_large', 'The SAML message is too large.');
    throw new SamlError(400, 'malformed', 'The SAML message could not be decoded (HTTP-Redirect takes base64 of DEFLATE).');
  }
}

/**
 * HTTP-POST: base64 of the XML. Some SPs (node-saml among them) DEFLATE it as for a redirect; that
 * is taken too, under the same size limit.
 */
export function decodePost(value: string): string {
  if (value.length > Math.ceil(MAX_MESSAGE_BYTES / 3) * 4 + 4) throw new SamlError(413, 'too_large', 'The SAML message is too large.');
  if (!/^[A-Za-z0-9+/=\s]+$/.test(value)) throw new SamlError(400, 'malformed', 'The SAML message is not base64.');
  const bytes = Buffer.from(value, 'base64');
  const text = bytes.toString('utf8');
  return /^\uFEFF?\s*</.test(text) ? text : decodeRedirect(value);
}

export const encodeRedirect = (xml: string): string => deflateRawSync(Buffer.from(xml)).toString('base64');

/** A SAML ID: starts with a letter (xs:ID), 160 random bits. */
export const newId = (): string => `_${randomBytes(20).toString('hex')}`;
const instant = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface AuthnRequestFields {
  id: string;
  issuer: string | null;
  destination: string | null;
  issueInstant: string | null;
  acsUrl: string | null;
  acsIndex: number | null;
  protocolBinding: string | null;
  forceAuthn: boolean;
  isPassive: boolean;
  nameIdFormat: string | null;
  /** NameIDPolicy@SPNameQualifier: the SP or affiliation the identifier is to be qualified for. */
  spNameQualifier?: string | null;
  /** Its RequestedAuthnContext (classes only: a DeclRef is a class we do not know), or null. */
  requestedAuthnContext: RequestedAuthnContext | null;
  /** The principal its <saml:Subject> names (its NameID), or null: the assertion must be about that one (SAML core 3.4.1.4). */
  subjectNameId: string | null;
  versionMismatch?: undefined;
}

/**
 * A request whose Version is not "2.0" (SAML core 4.1: answered with the top-level status
 * VersionMismatch, RequestVersionTooHigh or RequestVersionTooLow under it where the version can be
 * read; red-team: a 400 page of ours, and the SP never heard).
 */
export interface VersionMismatch { detail: 'RequestVersionTooHigh' | 'RequestVersionTooLow' | null }

/**
 * Pure: null for Version "2.0"; else the mismatch. "2.1" and "3.0" are too high, "1.1" too low; a
 * missing or unreadable Version (or "2.00", which is not the "2.0" SAML asks for) is VersionMismatch alone.
 */
export function versionMismatchOf(version: string | null): VersionMismatch | null {
  if (version === '2.0') return null;
  const m = version === null ? null : /^(\d{1,6})\.(\d{1,6})$/.exec(version);
  if (!m) return { detail: null };
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const order = major !== 2 ? major - 2 : minor;
  return { detail: order > 0 ? 'RequestVersionTooHigh' : order < 0 ? 'RequestVersionTooLow' : null };
}

/**
 * What is read of an AuthnRequest of another Version: only what its answer needs (its ID, and the
 * Destination, IssueInstant and ACS checked as for any request). Nothing else of it is interpreted.
 */
export interface MismatchedAuthnRequest extends Pick<AuthnRequestFields, 'id' | 'issuer' | 'destination' | 'issueInstant' | 'acsUrl' | 'acsIndex'> {
  versionMismatch: VersionMismatch;
}

/**
 * Pure: an ID as SAML's xs:ID needs it (an NCName: a letter or `_` first, then letters, digits, `.`,
 * `-`, `_`), at most 256 characters (red-team: "1 not an NCName" was taken and echoed as the
 * signed Response's InResponseTo).
 */
export const isSamlId = (id: string | null): id is string => id !== null && id.length <= 256 && /^[\p{L}_][\p{L}\p{N}_.\-\u00B7]*$/u.test(id);

const COMPARISONS: readonly Comparison[] = ['exact', 'minimum', 'maximum', 'better'];

function readRequestedAuthnContext(el: Element): RequestedAuthnContext | null {
  const rac = child(el, NS.protocol, 'RequestedAuthnContext');
  if (!rac) return null;
  const comparison = (attr(rac, 'Comparison') ?? 'exact') as Comparison;
  if (!COMPARISONS.includes(comparison)) throw new SamlError(400, 'malformed', 'RequestedAuthnContext has an unknown Comparison.');
  const classes = children(rac, NS.assertion, 'AuthnContextClassRef').map((c) => text(c) ?? '');
  const decls = children(rac, NS.assertion, 'AuthnContextDeclRef').map((d) => `decl:${text(d) ?? ''}`);
  if (classes.length + decls.length === 0) throw new SamlError(400, 'malformed', 'RequestedAuthnContext names no class.');
  return { classes: [...classes, ...decls], comparison };
}

/**
 * An xs:boolean attribute: true, false, 1 or 0 with the whitespace XML Schema collapses; absent is
 * false, anything else a 400 (red-team: ForceAuthn=" true " was read as false, and the old SSO
 * session answered a request that asked for a new sign-in).
 */
function xsBoolean(el: Element, name: string): boolean {
  const value = attr(el, name);
  if (value === null) return false;
  const read = xsBooleanOf(value);
  if (read !== null) return read;
  throw new SamlError(400, 'malformed', `The AuthnRequest's ${name} is not an xs:boolean (true, false, 1 or 0).`);
}

/** More SessionIndex elements than any SP sends (one per session it holds with this IdP). */
export const MAX_SESSION_INDEXES = 16;

/** A LogoutRequest's SessionIndex values; more than MAX_SESSION_INDEXES is a 400 (each is a look-up: red-team, 1,050 of them made 1,050 Redis reads in a row). */
function sessionIndexesOf(el: Element): string[] {
  const found = children(el, NS.protocol, 'SessionIndex');
  if (found.length > MAX_SESSION_INDEXES) throw new SamlError(400, 'malformed', `The LogoutRequest names more than ${MAX_SESSION_INDEXES} SessionIndex values.`);
  return found.map((s) => text(s) ?? '');
}

/**
 * Reads an AuthnRequest element (already verified when it was signed). One of another Version is
 * read only as far as its answer needs (MismatchedAuthnRequest): routes.ts answers it at its ACS.
 */
export function readAuthnRequest(el: Element): AuthnRequestFields | MismatchedAuthnRequest {
  if (el.namespaceURI !== NS.protocol || el.localName !== 'AuthnRequest') throw new SamlError(400, 'malformed', 'Expected a samlp:AuthnRequest.');
  const id = attr(el, 'ID');
  if (!isSamlId(id)) throw new SamlError(400, 'malformed', 'The AuthnRequest has no usable ID (an xs:ID, at most 256 characters).');
  const versionMismatch = versionMismatchOf(attr(el, 'Version'));
  const index = attr(el, 'AssertionConsumerServiceIndex');
  // SAML core 3.4.1: a URL and an index together MUST NOT be; an index is an unsigned short.
  if (index !== null && attr(el, 'AssertionConsumerServiceURL') !== null) throw new SamlError(400, 'malformed', 'The AuthnRequest names both an AssertionConsumerServiceURL and an AssertionConsumerServiceIndex.');
  if (index !== null && !(/^\d{1,5}$/.test(index) && Number(index) <= 65535)) throw new SamlError(400, 'malformed', 'The AssertionConsumerServiceIndex is not an unsigned short.');
  const common = {
    id, issuer: text(child(el, NS.assertion, 'Issuer')), destination: attr(el, 'Destination'), issueInstant: attr(el, 'IssueInstant'),
    acsUrl: attr(el, 'AssertionConsumerServiceURL'), acsIndex: index !== null ? Number(index) : null,
  };
  if (versionMismatch) return { ...common, versionMismatch };
  const policy = child(el, NS.protocol, 'NameIDPolicy');
  return {
    ...common,
    protocolBinding: attr(el, 'ProtocolBinding'),
    forceAuthn: xsBoolean(el, 'ForceAuthn'),
    isPassive: xsBoolean(el, 'IsPassive'),
    nameIdFormat: policy ? attr(policy, 'Format') : null,
    spNameQualifier: policy ? attr(policy, 'SPNameQualifier') : null,
    requestedAuthnContext: readRequestedAuthnContext(el),
    subjectNameId: subjectNameIdOf(child(el, NS.assertion, 'Subject')),
  };
}

/**
 * Pure: a SAML time (xs:dateTime, UTC: SAML core 1.3.3) in epoch ms, NaN when unreadable. One
 * without a time zone is UTC, never the server's local time (red-team: it was read as local).
 */
export function samlInstant(value: string | null): number {
  if (!value || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/.test(value)) return NaN;
  return Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : `${value}Z`);
}

const subjectNameIdOf = (subject: Element | null): string | null => (subject ? text(child(subject, NS.assertion, 'NameID')) : null);

/** Checks a request's time against our clock. */
export function checkIssueInstant(value: string | null, now: number): void {
  const at = samlInstant(value);
  if (!Number.isFinite(at)) throw new SamlError(400, 'malformed', 'The request has no valid IssueInstant.');
  if (at > now + CLOCK_SKEW_MS || at < now - REQUEST_MAX_AGE_MS) throw new SamlError(400, 'expired', 'The request is too old or from the future: start the sign-in again at the application.');
}

/**
 * Pure: what a request with a registered ACS asks that this IdP cannot give, as the SAML status the
 * SP is answered with at that ACS (SAML core 3.2.2.2, 3.4.1.1): a response binding other than
 * HTTP-POST, or a NameID format other than the SP's (red-team: both were a page of ours, and the
 * SP never heard). Null: none.
 */
export function requestRefusal(req: Pick<AuthnRequestFields, 'protocolBinding' | 'nameIdFormat' | 'spNameQualifier'>, sp: ServiceProvider): 'UnsupportedBinding' | 'InvalidNameIDPolicy' | null {
  if (req.protocolBinding && req.protocolBinding !== 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST') return 'UnsupportedBinding';
  if (req.nameIdFormat && req.nameIdFormat !== NAMEID_FORMATS.unspecified && req.nameIdFormat !== NAMEID_FORMATS[sp.nameIdFormat]) return 'InvalidNameIDPolicy';
  // SAML core 3.4.1.1: an identifier qualified for another SP or an affiliation is not given here
  // (red-team, samlify round: the request went on, and the assertion was qualified for nobody it named).
  if (req.spNameQualifier !== null && req.spNameQualifier !== undefined && req.spNameQualifier !== sp.entityId) return 'InvalidNameIDPolicy';
  return null;
}

/** Decides which ACS answers a request (pure): a URL or index it names must be registered. */
export function chooseAcs(req: Pick<AuthnRequestFields, 'acsUrl' | 'acsIndex'>, sp: ServiceProvider): string {
  if (req.acsUrl !== null) {
    if (!sp.acs.some((a) => a.url === req.acsUrl)) throw new SamlError(400, 'acs_not_registered', 'The AssertionConsumerServiceURL is not registered for this service provider.');
    return req.acsUrl;
  }
  if (req.acsIndex !== null) {
    const acs = sp.acs.find((a) => a.index === req.acsIndex);
    if (!acs) throw new SamlError(400, 'acs_not_registered', 'The AssertionConsumerServiceIndex is not registered for this service provider.');
    return acs.url;
  }
  return defaultAcs(sp);
}

export const defaultAcs = (sp: ServiceProvider): string => (sp.acs.find((a) => a.isDefault) ?? sp.acs[0]!).url;

export interface LogoutRequestFields { id: string; issuer: string | null; destination: string | null; issueInstant: string | null; notOnOrAfter: string | null; nameId: string | null; sessionIndexes: string[]; versionMismatch?: undefined }

/** A LogoutRequest of another Version: read as far as its answer needs (no NameID, no SessionIndex: it ends nothing). */
export interface MismatchedLogoutRequest extends Pick<LogoutRequestFields, 'id' | 'issuer' | 'destination' | 'issueInstant' | 'notOnOrAfter'> {
  versionMismatch: VersionMismatch;
}

export function readLogoutRequest(el: Element): LogoutRequestFields | MismatchedLogoutRequest {
  if (el.namespaceURI !== NS.protocol || el.localName !== 'LogoutRequest') throw new SamlError(400, 'malformed', 'Expected a samlp:LogoutRequest.');
  const id = attr(el, 'ID');
  if (!isSamlId(id)) throw new SamlError(400, 'malformed', 'The LogoutRequest has no usable ID (an xs:ID, at most 256 characters).');
  const common = {
    id, issuer: text(child(el, NS.assertion, 'Issuer')), destination: attr(el, 'Destination'), issueInstant: attr(el, 'IssueInstant'),
    notOnOrAfter: attr(el, 'NotOnOrAfter'),
  };
  const versionMismatch = versionMismatchOf(attr(el, 'Version'));
  if (versionMismatch) return { ...common, versionMismatch };
  return {
    ...common,
    nameId: text(child(el, NS.assertion, 'NameID')), sessionIndexes: sessionIndexesOf(el),
  };
}

export interface AssertionInput {
  issuer: string;
  sp: ServiceProvider;
  acsUrl: string;
  inResponseTo: string | null;
  nameId: string;
  attributes: [string, string][];
  classRef: string;
  authnInstant: number;
  sessionIndex: string;
  now: number;
}

/** How far back an assertion's Conditions start, for SPs whose clocks run behind (as Entra ID and ADFS do it). */
export const NOT_BEFORE_BACKDATE_MS = 60_000;

/**
 * SAML core 2.7.3.1: an attribute's NameFormat; profiles 8.2: a URI-shaped name (urn:oid:..., or an
 * http(s) claim type as Microsoft's) is `uri`, any other name `basic`. Without it the format is
 * `unspecified`, and SPs that map attributes by name and format (Shibboleth's attribute map) drop them.
 */
export function attributeNameFormat(name: string): string {
  return /^(?:urn:|https?:\/\/)/i.test(name)
    ? 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri'
    : 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
}

/** The Response with its Assertion, unsigned (response.ts signs what the SP asks for). */
export function buildResponse(a: AssertionInput): string {
  const irt = a.inResponseTo ? ` InResponseTo="${esc(a.inResponseTo)}"` : '';
  const issued = instant(a.now);
  const until = instant(a.now + ASSERTION_TTL_MS);
  const attrs = a.attributes.length === 0 ? '' : `<saml:AttributeStatement>${a.attributes.map(([name, value]) =>
    `<saml:Attribute Name="${esc(name)}" NameFormat="${attributeNameFormat(name)}"><saml:AttributeValue>${esc(value)}</saml:AttributeValue></saml:Attribute>`).join('')}</saml:AttributeStatement>`;
  // SAML profiles 8.2: an SP's clock may run behind ours; an assertion valid only from this very
  // instant was refused by SPs without a skew allowance (node-saml's default is none: red-team).
  const validFrom = instant(a.now - NOT_BEFORE_BACKDATE_MS);
  const assertion = `<saml:Assertion xmlns:saml="${NS.assertion}" ID="${newId()}" Version="2.0" IssueInstant="${issued}">`
    + `<saml:Issuer>${esc(a.issuer)}</saml:Issuer>`
    + `<saml:Subject><saml:NameID Format="${NAMEID_FORMATS[a.sp.nameIdFormat]}">${esc(a.nameId)}</saml:NameID>`
    + `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${irt} NotOnOrAfter="${until}" Recipient="${esc(a.acsUrl)}"/></saml:SubjectConfirmation></saml:Subject>`
    + `<saml:Conditions NotBefore="${validFrom}" NotOnOrAfter="${until}"><saml:AudienceRestriction><saml:Audience>${esc(a.sp.entityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
    + `<saml:AuthnStatement AuthnInstant="${instant(a.authnInstant)}" SessionIndex="${esc(a.sessionIndex)}"><saml:AuthnContext><saml:AuthnContextClassRef>${esc(a.classRef)}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`
    + attrs
    + '</saml:Assertion>';
  return `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${newId()}" Version="2.0" IssueInstant="${issued}" Destination="${esc(a.acsUrl)}"${irt}>`
    + `<saml:Issuer>${esc(a.issuer)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>`
    + assertion + '</samlp:Response>';
}

/**
 * A SAML status (SAML core 3.2.2.2): its top-level code and, under it, an optional second-level one,
 * each by its last name (`VersionMismatch` is urn:oasis:names:tc:SAML:2.0:status:VersionMismatch).
 */
export interface StatusCodes { top: 'Success' | 'Responder' | 'VersionMismatch'; second: string | null }

/** Pure: the answer to a request of another Version. */
export const versionStatus = (m: VersionMismatch): StatusCodes => ({ top: 'VersionMismatch', second: m.detail });

const STATUS_URN = 'urn:oasis:names:tc:SAML:2.0:status:';
const statusCodeXml = (s: StatusCodes): string => (s.second === null
  ? `<samlp:StatusCode Value="${STATUS_URN}${s.top}"/>`
  : `<samlp:StatusCode Value="${STATUS_URN}${s.top}"><samlp:StatusCode Value="${STATUS_URN}${esc(s.second)}"/></samlp:StatusCode>`);

/** A Response carrying only an error status (no assertion), e.g. Responder/NoPassive or VersionMismatch/RequestVersionTooHigh. */
export function buildErrorResponse(a: { issuer: string; acsUrl: string; inResponseTo: string | null; status: StatusCodes; now: number }): string {
  const irt = a.inResponseTo ? ` InResponseTo="${esc(a.inResponseTo)}"` : '';
  return `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${newId()}" Version="2.0" IssueInstant="${instant(a.now)}" Destination="${esc(a.acsUrl)}"${irt}>`
    + `<saml:Issuer>${esc(a.issuer)}</saml:Issuer><samlp:Status>${statusCodeXml(a.status)}</samlp:Status></samlp:Response>`;
}

/**
 * `partial`: other participants of the ended session were not logged out (SAML core 3.7.3.2:
 * PartialLogout). `status`: another answer than Success (VersionMismatch: nothing was ended).
 */
export function buildLogoutResponse(a: { issuer: string; destination: string; inResponseTo: string; now: number; partial?: boolean; status?: StatusCodes }): string {
  const status = statusCodeXml(a.status ?? { top: 'Success', second: a.partial ? 'PartialLogout' : null });
  return `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${newId()}" Version="2.0" IssueInstant="${instant(a.now)}" Destination="${esc(a.destination)}" InResponseTo="${esc(a.inResponseTo)}">`
    + `<saml:Issuer>${esc(a.issuer)}</saml:Issuer><samlp:Status>${status}</samlp:Status></samlp:LogoutResponse>`;
}

/**
 * IdP metadata: signing certificate, SSO and SLO endpoints over both bindings. With `sp`, the
 * metadata as that SP sees us (GET /saml/metadata/<sp>): the Issuer we send it, whether we want its
 * requests signed (its `requestsSigned`: samlify refuses a signing SP whose IdP metadata says false)
 * and its one NameID format.
 */
export function buildMetadata(a: { entityId: string; ssoUrl: string; sloUrl: string; certificate: string; sp?: Pick<ServiceProvider, 'requestsSigned' | 'nameIdFormat'> }): string {
  const svc = (tag: string, url: string) => ['HTTP-Redirect', 'HTTP-POST'].map((b) => `<md:${tag} Binding="urn:oasis:names:tc:SAML:2.0:bindings:${b}" Location="${esc(url)}"/>`).join('');
  const formats = a.sp ? [NAMEID_FORMATS[a.sp.nameIdFormat]] : Object.values(NAMEID_FORMATS);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" entityID="${esc(a.entityId)}">`
    + `<md:IDPSSODescriptor WantAuthnRequestsSigned="${a.sp?.requestsSigned ? 'true' : 'false'}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`
    + `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${a.certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
    + svc('SingleLogoutService', a.sloUrl)
    + formats.map((f) => `<md:NameIDFormat>${f}</md:NameIDFormat>`).join('')
    + svc('SingleSignOnService', a.ssoUrl)
    + '</md:IDPSSODescriptor></md:EntityDescriptor>\n';
}
