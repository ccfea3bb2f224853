import { describe, expect, it } from '@jest/globals';
import { CATALOGUES, pickLanguage, translator } from '../../pwa/src/i18n.js';
import { requestNotification } from '../../pwa/src/notification-text.js';
import { browserText } from '../../pwa/src/ui/format.js';
import type { PushPayload } from '../../pwa/src/types.js';

/** The PWA's catalogues: every language has every key of English, with the same placeholders. */
describe('PWA message catalogues', () => {
  const en = CATALOGUES.en!;
  const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

  it.each(Object.keys(CATALOGUES).filter((l) => l !== 'en'))('%s has every key, none empty, the same placeholders', (lang) => {
    const catalogue = CATALOGUES[lang]!;
    expect(Object.keys(catalogue).sort()).toEqual(Object.keys(en).sort());
    for (const [key, text] of Object.entries(en)) {
      const translated = catalogue[key as keyof typeof en];
      expect(translated.trim()).not.toBe('');
      expect([key, placeholders(translated)]).toEqual([key, placeholders(text)]);
    }
  });

  it('says the IdP\'s English browser summary in the phone\'s language, keeping the names', () => {
    const de = translator('de');
    expect(browserText('Chrome on Linux', de)).toBe('Chrome unter Linux');
    expect(browserText('Unknown browser', de)).toBe('Unbekannter Browser');
    expect(browserText('Unknown browser on Windows', de)).toBe('Unbekannter Browser unter Windows');
    expect(browserText('Safari', de)).toBe('Safari');
    expect(browserText('Chrome on Linux', translator('en'))).toBe('Chrome on Linux');
  });

  it('has English and German', () => {
    expect(Object.keys(CATALOGUES).sort()).toEqual(['de', 'en']);
  });

  it('picks the first language it has from the phone\'s list, else English', () => {
    expect(pickLanguage(['de-AT', 'en-US'])).toBe('de');
    expect(pickLanguage(['fr-FR', 'de'])).toBe('de');
    expect(pickLanguage(['fr-FR'])).toBe('en');
    expect(pickLanguage([])).toBe('en');
  });
});

describe('request notification text', () => {
  const payload: PushPayload = {
    v: 1, type: 'challenge', cid: 'c1', issuer: 'https://idp.example.com', deviceId: 'dev_1', title: 'x', body: 'x',
    app: 'Demo App', ip: '203.0.113.7', location: 'Berlin, Germany', browser: 'Chrome on Linux',
    createdAt: 0, expiresAt: 120_000, numberMatching: true,
  };
  const alice = { name: 'Alice', host: 'idp.example.com' };

  it('asks in German on a German phone, with Review under number matching', () => {
    const text = requestNotification(payload, alice, { accountCount: 1, canAnswer: true, time: '14:05', t: translator('de') });
    expect(text).toEqual({
      title: 'Melden Sie sich gerade bei Demo App an?',
      body: 'Alice · Berlin, Germany · 14:05',
      actions: [{ action: 'review', title: 'Prüfen' }, { action: 'deny', title: 'Ablehnen' }],
    });
  });

  it('names the IdP when the phone holds several accounts, shows the IP when the place is unknown, and the binding message first', () => {
    const text = requestNotification({ ...payload, location: null, numberMatching: false, bindingMessage: 'Order 4711' }, alice,
      { accountCount: 2, canAnswer: true, time: '2:05 PM', t: translator('en') });
    expect(text.title).toBe('Are you signing in to Demo App?');
    expect(text.body).toBe('"Order 4711"\nAlice (idp.example.com) · 203.0.113.7 · 2:05 PM');
    expect(text.actions.map((a) => a.action)).toEqual(['approve', 'deny']);
  });

  it('offers no action for an account it cannot answer for', () => {
    expect(requestNotification(payload, null, { accountCount: 0, canAnswer: false, time: '1', t: translator('en') }).actions).toEqual([]);
  });
});
