import { describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../../src/config/settings.js';
import { placeholderContact, vapidContactWarning } from '../../src/config/production.js';

/**
 * VAPID_SUBJECT, the contact every push service is given (RFC 8292 2.1). Red-team (Web Push round):
 * `mailto:` and `mailto:%20` were taken, and the default `mailto:admin@localhost` went to production
 * without a word, where Apple's push service refuses it (403 BadJwtToken): every iPhone's push fails
 * while Android's work.
 */
const root = mkdtempSync(path.join(os.tmpdir(), 'vapid-subject-'));

describe('VAPID_SUBJECT', () => {
  it.each(['mailto:', 'mailto:%20', 'mailto:ops', 'mailto:a b@x.org', 'https://', 'ftp://x.org', 'ops@example.org'])('%j is refused at start', (v) => {
    expect(() => loadSettings({ VAPID_SUBJECT: v }, root)).toThrow(/^environment: VAPID_SUBJECT: must/);
  });

  it.each(['mailto:ops@acme-corp.com', 'https://idp.acme-corp.com/contact', 'mailto:admin@localhost'])('%j is taken', (v) => {
    expect(loadSettings({ VAPID_SUBJECT: v }, root).vapidSubject).toBe(v);
  });

  it.each([
    ['mailto:admin@localhost', true], ['mailto:ops@idp.invalid', true], ['https://localhost', true], ['mailto:a@intranet', true],
    ['mailto:a@10.0.0.1', true], ['mailto:ops@example.com', true], ['mailto:ops@acme-corp.com', false], ['https://push-contact.acme.com', false],
  ] as const)('%s is a placeholder no push service can reach: %s', (v, placeholder) => {
    expect(placeholderContact(v)).toBe(placeholder);
  });

  it('a production start with a placeholder contact says so in its log; development, or a real contact, says nothing', () => {
    expect(vapidContactWarning({ vapidSubject: 'mailto:admin@localhost', env: { NODE_ENV: 'production' } })).toMatch(/^VAPID_SUBJECT is mailto:admin@localhost: Apple's push service refuses/);
    expect(vapidContactWarning({ vapidSubject: 'mailto:admin@localhost', env: {} })).toBeNull();
    expect(vapidContactWarning({ vapidSubject: 'mailto:ops@acme-corp.com', env: { NODE_ENV: 'production' } })).toBeNull();
  });
});
