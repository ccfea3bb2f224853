import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { shownName } from '../config/shown-name.js';
import { autoPushProblem, loginPolicySchema, type LoginPolicy } from '../config/clients.js';
import { ConfigError } from '../config/settings.js';
import { attr, child, children, NS, parseXml, text, xsBooleanOf } from './xml.js';
import { readJsonFolder } from '../config/json-folder.js';

/** Where an attribute's value comes from (docs/saml.md, "Attributes"). */
export const ATTRIBUTE_SOURCES = ['accountId', 'username', 'email', 'displayName', 'upn', 'immutableId'] as const;
export type AttributeSource = (typeof ATTRIBUTE_SOURCES)[number];

export const NAMEID_FORMATS = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  emailAddress: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
} as const;
export type NameIdFormat = keyof typeof NAMEID_FORMATS;

export const BINDINGS = {
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
} as const;

/** Microsoft 365 domain federation (docs/saml.md, "Microsoft 365"). */
export const M365 = {
  entityId: 'urn:federation:MicrosoftOnline',
  endpoint: 'https://login.microsoftonline.com/login.srf',
  mfaClassRef: 'http://schemas.microsoft.com/claims/multipleauthn',
} as const;

/** A registered service provider, validated. */
export interface ServiceProvider {
  file: string;
  /** Our short name for it (the file name): /saml/start/<id>, the internal client saml.<id>. */
  id: string;
  name: string;
  profile: 'generic' | 'microsoft365';
  entityId: string;
  /** HTTP-POST assertion consumer services; the first `isDefault` (or the first) is the default. */
  acs: { url: string; index: number; isDefault: boolean }[];
  slo: { url: string; binding: 'HTTP-Redirect' | 'HTTP-POST' } | null;
  /** The SP's signing certificates (base64 DER); empty: it signs nothing. */
  certificates: string[];
  /** Its AuthnRequests and LogoutRequests must be signed. */
  requestsSigned: boolean;
  wantAssertionsSigned: boolean;
  wantResponseSigned: boolean;
  nameIdFormat: NameIdFormat;
  /** What the NameID holds. */
  nameIdSource: AttributeSource;
  /** SAML attribute name -> where its value comes from. */
  attributes: Record<string, AttributeSource>;
  /** The Issuer we send (Microsoft 365: the domain's IssuerUri); null = our metadata's entityID. */
  issuer: string | null;
  /** AuthnContextClassRef per outcome. */
  authnContext: { mfa: string; password: string };
  idpInitiated: boolean;
  policy: LoginPolicy;
}

const PASSWORD_CLASS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
/** REFEDS MFA profile: the class that says "more than one factor". */
const MFA_CLASS = 'https://refeds.org/profile/mfa';

const url = z.string().refine((v) => { try { return ['https:', 'http:'].includes(new URL(v).protocol); } catch { return false; } }, 'must be an absolute http(s) URL');

const spFile = z.strictObject({
  $comment: z.string().optional(),
  name: shownName(100).optional(),
  profile: z.enum(['generic', 'microsoft365']).default('generic'),
  metadataFile: z.string().min(1).optional(),
  entityId: z.string().min(1).max(1024).optional(),
  acs: z.array(z.strictObject({ url, binding: z.literal('HTTP-POST').default('HTTP-POST'), index: z.number().int().min(0).optional(), isDefault: z.boolean().optional() })).min(1).optional(),
  slo: z.strictObject({ url, binding: z.enum(['HTTP-Redirect', 'HTTP-POST']).default('HTTP-Redirect') }).optional(),
  certificate: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  requestsSigned: z.boolean().optional(),
  wantAssertionsSigned: z.boolean().optional(),
  wantResponseSigned: z.boolean().optional(),
  nameIdFormat: z.enum(['persistent', 'emailAddress', 'unspecified']).optional(),
  nameIdSource: z.enum(ATTRIBUTE_SOURCES).optional(),
  attributes: z.record(z.string().min(1).max(256), z.enum(ATTRIBUTE_SOURCES)).optional(),
  issuer: z.string().min(1).max(1024).optional(),
  authnContext: z.strictObject({ mfa: z.string().min(1), password: z.string().min(1) }).optional(),
  idpInitiated: z.boolean().optional(),
  login: z.record(z.string(), z.unknown()).optional(),
});
type SpFile = z.infer<typeof spFile>;

/**
 * An xs:boolean as metadata writes it: "true" or "1", whitespace collapsed (red-team: an SP whose
 * metadata said AuthnRequestsSigned="1" was taken as not signing its requests, and unsigned ones
 * were accepted for it).
 */
const xsBoolean = (v: string | null): boolean => v !== null && xsBooleanOf(v) === true;

/** What SP metadata XML (an SPSSODescriptor) says; the file's own fields win over it. */
function fromMetadata(file: string, xml: string): Partial<SpFile> {
  let doc;
  try {
    doc = parseXml(xml);
  } catch (err) {
    throw new ConfigError(file, 'metadataFile', `not usable SAML metadata: ${(err as Error).message}`);
  }
  const root = doc.documentElement!;
  if (root.namespaceURI !== NS.metadata || root.localName !== 'EntityDescriptor') throw new ConfigError(file, 'metadataFile', 'must hold one md:EntityDescriptor');
  const sp = child(root, NS.metadata, 'SPSSODescriptor');
  if (!sp) throw new ConfigError(file, 'metadataFile', 'has no SPSSODescriptor');
  const acs = children(sp, NS.metadata, 'AssertionConsumerService').filter((e) => attr(e, 'Binding') === BINDINGS.post)
    .map((e, i) => ({ url: attr(e, 'Location') ?? '', binding: 'HTTP-POST' as const, index: Number(attr(e, 'index') ?? i), isDefault: xsBoolean(attr(e, 'isDefault')) }));
  const sloEl = children(sp, NS.metadata, 'SingleLogoutService').find((e) => attr(e, 'Binding') === BINDINGS.redirect)
    ?? children(sp, NS.metadata, 'SingleLogoutService').find((e) => attr(e, 'Binding') === BINDINGS.post);
  const certs = children(sp, NS.metadata, 'KeyDescriptor').filter((k) => (attr(k, 'use') ?? 'signing') === 'signing')
    .flatMap((k) => { const ki = child(k, NS.dsig, 'KeyInfo'); const xd = ki && child(ki, NS.dsig, 'X509Data'); return xd ? children(xd, NS.dsig, 'X509Certificate').map((c) => text(c)!) : []; });
  // The first format listed that this IdP gives (an SP listing transient, then persistent, gets persistent).
  const listed = children(sp, NS.metadata, 'NameIDFormat').map((e) => text(e));
  const formatName = listed.map((f) => Object.entries(NAMEID_FORMATS).find(([, v]) => v === f)?.[0]).find((n) => n !== undefined) as NameIdFormat | undefined;
  const out: Partial<SpFile> = { entityId: attr(root, 'entityID') ?? '' };
  if (acs.length) out.acs = acs;
  // SAML metadata 2.2.2: LogoutResponses go to ResponseLocation where the SP gives one.
  if (sloEl) out.slo = { url: attr(sloEl, 'ResponseLocation') ?? attr(sloEl, 'Location') ?? '', binding: attr(sloEl, 'Binding') === BINDINGS.post ? 'HTTP-POST' : 'HTTP-Redirect' };
  if (certs.length) out.certificate = certs;
  if (xsBoolean(attr(sp, 'AuthnRequestsSigned'))) out.requestsSigned = true;
  if (xsBoolean(attr(sp, 'WantAssertionsSigned'))) out.wantAssertionsSigned = true;
  if (formatName) out.nameIdFormat = formatName;
  return out;
}

function certificateOf(file: string, cert: string): string {
  const b64 = cert.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  try {
    new X509Certificate(Buffer.from(b64, 'base64'));
  } catch {
    throw new ConfigError(file, 'certificate', 'is not an X.509 certificate (PEM or base64 DER)');
  }
  return b64;
}

/** Validates one SP file (JSON, with `metadataFile` read relative to `dir`). */
export function parseServiceProvider(file: string, raw: unknown, readMetadata: (name: string) => string): ServiceProvider {
  const result = spFile.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') throw new ConfigError(file, [...issue.path, issue.keys[0]!].join('.'), 'unknown field (a typo?)');
    throw new ConfigError(file, issue.path.join('.') || '(file)', issue.message);
  }
  const given = result.data;
  const meta = given.metadataFile ? fromMetadata(file, readMetadata(given.metadataFile)) : {};
  // What the metadata brings is held to the file's own rules (red-team: a javascript: or relative
  // Location from an SP's metadata was taken where the same value in the file was refused).
  const fromMeta = spFile.safeParse(meta);
  if (!fromMeta.success) {
    const issue = fromMeta.error.issues[0]!;
    throw new ConfigError(file, `metadataFile: ${issue.path.join('.') || '(file)'}`, issue.message);
  }
  const f: SpFile = { ...fromMeta.data, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) } as SpFile;
  const m365 = f.profile === 'microsoft365';
  const id = path.basename(file).replace(/\.json$/, '');
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) throw new ConfigError(file, '(file)', 'the file name (the SP\'s id) must be 1-63 lowercase letters, digits or dashes, then .json');
  const entityId = f.entityId ?? (m365 ? M365.entityId : undefined);
  if (!entityId) throw new ConfigError(file, 'entityId', 'required (or give metadataFile)');
  const acsList = f.acs ?? (m365 ? [{ url: M365.endpoint, binding: 'HTTP-POST' as const }] : undefined);
  if (!acsList?.length) throw new ConfigError(file, 'acs', 'at least one HTTP-POST assertion consumer service URL is required (or give metadataFile)');
  const acs = acsList.map((a, i) => ({ url: a.url, index: a.index ?? i, isDefault: a.isDefault ?? false }));
  if (new Set(acs.map((a) => a.index)).size !== acs.length) throw new ConfigError(file, 'acs', 'two entries have the same index');
  const certificates = [f.certificate ?? []].flat().map((c) => certificateOf(file, c));
  const requestsSigned = f.requestsSigned ?? false;
  if (requestsSigned && !certificates.length) throw new ConfigError(file, 'certificate', 'required when requestsSigned is true');
  const nameIdFormat = m365 ? 'persistent' : f.nameIdFormat ?? 'persistent';
  if (m365 && f.nameIdFormat && f.nameIdFormat !== 'persistent') throw new ConfigError(file, 'nameIdFormat', 'Microsoft 365 takes a persistent NameID (the ImmutableID) only');
  const nameIdSource = m365 ? 'immutableId' : f.nameIdSource ?? (nameIdFormat === 'emailAddress' ? 'email' : nameIdFormat === 'persistent' ? 'accountId' : 'username');
  if (m365 && f.nameIdSource && f.nameIdSource !== 'immutableId') throw new ConfigError(file, 'nameIdSource', 'Microsoft 365 takes the ImmutableID as NameID');
  // SAML core 8.3.7: a persistent identifier has no discernible correspondence with the user's own
  // identifiers (red-team, samlify round: a username or e-mail was taken as one).
  if (nameIdFormat === 'persistent' && !['accountId', 'immutableId'].includes(nameIdSource)) {
    throw new ConfigError(file, 'nameIdSource', 'a persistent NameID is the account id (or Microsoft 365\'s ImmutableID); for a username or an e-mail address use "unspecified" or "emailAddress"');
  }
  if (!m365 && (f.entityId === M365.entityId)) throw new ConfigError(file, 'profile', 'Microsoft 365 (urn:federation:MicrosoftOnline) needs "profile": "microsoft365"');
  // The OIDC client file's `login` (src/config/clients.ts), with implicit consent by default: the
  // SP asks for no OIDC scope the user could weigh.
  const login = loginPolicySchema.safeParse({ consent: 'implicit', ...f.login });
  if (!login.success) {
    const issue = login.error.issues[0]!;
    const key = issue.code === 'unrecognized_keys' ? [issue.keys[0]!] : [];
    throw new ConfigError(file, ['login', ...issue.path, ...key].join('.'), issue.code === 'unrecognized_keys' ? 'unknown field (a typo?)' : issue.message);
  }
  const autoPush = autoPushProblem(login.data);
  if (autoPush) throw new ConfigError(file, 'login.autoPush', autoPush);
  const policy: LoginPolicy = login.data;
  return {
    file, id, name: f.name ?? (m365 ? 'Microsoft 365' : entityId), profile: f.profile, entityId, acs,
    slo: f.slo ?? (m365 ? { url: M365.endpoint, binding: 'HTTP-Redirect' } : null),
    certificates, requestsSigned,
    wantAssertionsSigned: m365 ? true : f.wantAssertionsSigned ?? true,
    // The Response is signed too unless the file says otherwise (red-team, SP libraries: node-saml and
    // passport-saml want a signed Response by default, and SP metadata cannot say so); Microsoft 365
    // reads the assertion's signature.
    wantResponseSigned: f.wantResponseSigned ?? !m365,
    nameIdFormat, nameIdSource,
    attributes: m365 ? { IDPEmail: 'upn', ...f.attributes } : f.attributes ?? { email: 'email', displayName: 'displayName', username: 'username' },
    issuer: f.issuer ?? null,
    // Microsoft 365 reads one value: multipleauthn when the second factor was done (docs/saml.md).
    authnContext: m365 ? { mfa: M365.mfaClassRef, password: PASSWORD_CLASS } : f.authnContext ?? { mfa: MFA_CLASS, password: PASSWORD_CLASS },
    idpInitiated: m365 ? false : f.idpInitiated ?? false,
    policy,
  };
}

/** Loads config/saml/*.json (sorted); a missing folder means no service providers. */
export function loadServiceProviders(dir: string): ServiceProvider[] {
  const byEntity = new Map<string, string>();
  return readJsonFolder(dir).map(({ file, raw }) => {
    const sp = parseServiceProvider(file, raw, (meta) => {
      try {
        return readFileSync(path.resolve(dir, meta), 'utf8');
      } catch (err) {
        throw new ConfigError(file, 'metadataFile', `cannot read ${meta}: ${(err as Error).message}`);
      }
    });
    const key = sp.entityId;
    if (byEntity.has(key)) throw new ConfigError(file, 'entityId', `"${sp.entityId}" is already registered by ${byEntity.get(key)}`);
    byEntity.set(key, file);
    return sp;
  });
}
