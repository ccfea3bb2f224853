import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { CATALOGUES, negotiate, translate, type Message } from '../../src/i18n/index.js';
import { en } from '../../src/i18n/locales/en.js';

/**
 * The pages' languages (issue 16, item 6): every language has every message of the English one,
 * with the same placeholders and the plural forms its grammar needs; the language a request gets.
 */

const placeholders = (m: Message) => [...new Set((typeof m === 'string' ? [m] : Object.values(m)).flatMap((s) => [...(s ?? '').matchAll(/\{(\w+)\}/g)].map((x) => x[1]!)))].sort();

describe('catalogues', () => {
  it('English and German are there', () => {
    expect([...CATALOGUES.keys()].sort()).toEqual(['de', 'en']);
  });

  for (const [locale, catalogue] of CATALOGUES) {
    it(`${locale}: every key of English, no other key, and no empty message`, () => {
      expect(Object.keys(catalogue).sort()).toEqual(Object.keys(en).sort());
      for (const [key, m] of Object.entries(catalogue)) {
        for (const text of typeof m === 'string' ? [m] : Object.values(m)) expect(`${key}: ${String(text).trim().length > 0}`).toBe(`${key}: true`);
      }
    });

    it(`${locale}: the same placeholders as English, and a form for each plural category of the language`, () => {
      const categories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories;
      for (const [key, m] of Object.entries(catalogue) as [keyof typeof en, Message][]) {
        expect(`${key}: ${placeholders(m).join(',')}`).toBe(`${key}: ${placeholders(en[key]).join(',')}`);
        if (typeof en[key] !== 'string') {
          expect(typeof m).toBe('object');
          for (const c of categories) expect(`${key}.${c}: ${typeof (m as Record<string, unknown>)[c]}`).toBe(`${key}.${c}: string`);
        }
      }
    });
  }

  it('every key a template or the server names exists in English', () => {
    const sources = [
      ...readdirSync('views').filter((f) => f.endsWith('.eta')).map((f) => readFileSync(`views/${f}`, 'utf8')),
      ...['src/interaction/first-factor.ts', 'src/interaction/load.ts', 'src/interaction/second-factor/passcode.ts', 'src/interaction/second-factor/recovery.ts', 'src/http/edge.ts']
        .map((f) => readFileSync(f, 'utf8')),
    ].join('\n');
    const named = [...sources.matchAll(/\bt[h]?\('([a-zA-Z]+\.[\w.-]+)'/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(40);
    expect(named.filter((k) => !Object.hasOwn(en, k))).toEqual([]);
  });
});

describe('plural forms and placeholders', () => {
  it('"Wait 1 second" and "Wait 2 seconds", in English and German', () => {
    expect(translate('en', 'throttle.seconds', { count: 1 })).toBe('Wait 1 second and try again.');
    expect(translate('en', 'throttle.seconds', { count: 2 })).toBe('Wait 2 seconds and try again.');
    expect(translate('en', 'throttle.seconds', { count: 0 })).toBe('Wait 0 seconds and try again.');
    expect(translate('de', 'throttle.seconds', { count: 1 })).toBe('Warten Sie 1 Sekunde und versuchen Sie es dann erneut.');
    expect(translate('de', 'throttle.minutes', { count: 15 })).toBe('Warten Sie 15 Minuten und versuchen Sie es dann erneut.');
  });

  it('a value is put in as text, never read as a placeholder or from the prototype', () => {
    expect(translate('en', 'error.backTo', { app: '{constructor}' })).toBe('Back to {constructor}');
    expect(translate('en', 'error.backTo', {})).toBe('Back to {app}');
  });
});

describe('negotiate: ui_locales, then Accept-Language by q, then English', () => {
  it.each([
    [undefined, undefined, 'en'],
    ['de-DE,de;q=0.9,en;q=0.8', undefined, 'de'],
    ['fr-FR,fr;q=0.9,de;q=0.5,en;q=0.4', undefined, 'de'],
    ['en;q=0.2, de-AT;q=0.8', undefined, 'de'],
    ['de;q=0, en', undefined, 'en'],
    ['fr', undefined, 'en'],
    ['de', 'en', 'en'],
    ['en', 'fr-CA de', 'de'],
    ['en', 'xx', 'en'],
    ['*', undefined, 'en'],
    ['de;q=abc, en;q=0.1', undefined, 'en'],
  ])('Accept-Language %j, ui_locales %j: %s', (accept, ui, expected) => {
    expect(negotiate(accept, ui)).toBe(expected);
  });

  it('reads only the first 500 characters of a huge header', () => {
    expect(negotiate(`${'x,'.repeat(10_000)}de`)).toBe('en');
  });
});
