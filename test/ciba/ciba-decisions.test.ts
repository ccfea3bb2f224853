import { describe, expect, it } from '@jest/globals';
import { checkBindingMessage, BINDING_MESSAGE_MAX } from '../../src/ciba/binding-message.js';
import { amrFor } from '../../src/signin/amr.js';

/** The pure rules behind the CIBA door: what the tokens claim, and what the phone may be made to show. */
describe('CIBA decisions', () => {
  it('amr: a named user (no password) proves only what the phone proved; mfa only with user verification', () => {
    expect(amrFor('hint', ['otp', 'swk'])).toEqual(['otp', 'swk']);
    expect(amrFor('hint', ['otp', 'swk', 'user'])).toEqual(['otp', 'swk', 'user', 'mfa']);
    // The browser's push sign-in is unchanged.
    expect(amrFor('pwd', ['otp', 'swk'])).toEqual(['pwd', 'otp', 'swk', 'mfa']);
  });

  it.each(['Order 4711', 'A', 'x'.repeat(BINDING_MESSAGE_MAX), 'Desk #7: ok?', 'a-b.c_d+e/f!g'])('binding_message %j is shown', (m) => {
    expect(checkBindingMessage(m)).toEqual({ ok: true, value: m });
  });

  it.each(['', 'x'.repeat(BINDING_MESSAGE_MAX + 1), ' lead', 'trail ', 'two  spaces', '<i>', 'tab\there', 'é', '\u202Eevil', 'quote"', "it's", '-dash first'])('binding_message %j is refused', (m) => {
    expect(checkBindingMessage(m).ok).toBe(false);
  });

  it('no binding_message is fine; a non-string one is refused', () => {
    expect(checkBindingMessage(undefined)).toEqual({ ok: true, value: null });
    expect(checkBindingMessage(['a']).ok).toBe(false);
  });
});
