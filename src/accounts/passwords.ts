import { createRequire } from 'node:module';
import { hash, verify } from '@node-rs/argon2';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

// Algorithm.Argon2id is an ambient const enum (unusable under verbatimModuleSyntax); its value is 2.
const ARGON2ID = 2;

/** OWASP's argon2id floor: m=19 MiB, t=2, p=1. */
export const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/**
 * NIST SP 800-63B 5.1.1.2: a password is compared as the same characters however they were
 * composed (NFKC): `Café` pasted decomposed (as some terminals and macOS give it) and typed
 * composed are one password (red-team: a CLI-set decomposed password never worked in the form).
 */
export const normalizedPassword = (password: string): string => password.normalize('NFKC');

export function hashPassword(password: string): Promise<string> {
  return hash(normalizedPassword(password), ARGON2_OPTIONS);
}

let dummy: Promise<string> | null = null;

/**
 * Checks a password against a stored hash. With no hash (unknown user, or no password set) it
 * verifies against a dummy hash anyway, so both cases cost the same time and say the same thing.
 */
export async function checkPassword(stored: string | null, password: string): Promise<boolean> {
  if (!stored) {
    dummy ??= hashPassword('dummy password for timing equality');
    await verify(await dummy, password).catch(() => false);
    return false;
  }
  try {
    const normalized = normalizedPassword(password);
    if (await verify(stored, normalized)) return true;
    // A hash made before passwords were normalized, of a password as it was typed then.
    return normalized !== password && await verify(stored, password);
  } catch {
    return false;
  }
}

/**
 * zxcvbn-ts with its common (breached-password lists: 49,000 passwords seen in leaks) and English
 * dictionaries: offline, maintained, MIT. Loaded (about 170 ms, a few MiB) only the first time a
 * password is set, which the server itself never does: the CLI and tests do.
 */
let estimator: ZxcvbnFactory | null = null;
function passwordEstimator(): ZxcvbnFactory {
  if (estimator) return estimator;
  const require = createRequire(import.meta.url);
  const { ZxcvbnFactory: Factory } = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const en = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  estimator = new Factory({ dictionary: { ...common.dictionary, ...en.dictionary }, graphs: common.adjacencyGraphs, translations: en.translations });
  return estimator;
}

/**
 * Fewer estimated guesses than this and the password is refused: zxcvbn's score 3, "safely
 * unguessable", which an offline attack on a stolen argon2id hash would still take a long time
 * to reach. It catches what NIST SP 800-63B 5.1.1.2 lists: passwords from breach corpuses,
 * dictionary words, repetitive or sequential characters ("aaaaaaaa", "12345678"), keyboard walks.
 */
const MIN_GUESSES = 1e8;
const SERVICE_WORDS = ['pushotp', 'push otp'];

// eslint-disable-next-line no-control-regex
const NOT_TYPEABLE = /[\u0000-\u001f\u007f-\u009f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Rules for a new password (NIST SP 800-63B 5.1.1.2): 8 to 256 characters, no composition rules,
 * and not one an attacker tries early: not on a list of common and breached passwords, not a
 * dictionary word or a simple pattern, and not built on context-specific words: the username,
 * the user's name, the name of the service (`context`). Returns a message to show, or null when
 * it is acceptable.
 */
export function passwordProblem(given: string, context: readonly string[] = []): string | null {
  // What no sign-in form sends (red-team: the CLI took a NUL, which the form refuses: a password nobody could use).
  if (NOT_TYPEABLE.test(given)) return 'The password must not hold a control character or half a surrogate pair: no sign-in form can send one.';
  const password = normalizedPassword(given);
  if (password.length < 8) return 'The password must have at least 8 characters.';
  if (password.length > 256) return 'The password must have at most 256 characters.';
  const lower = password.toLowerCase();
  const words = [...context, ...SERVICE_WORDS].map((w) => w.trim().toLowerCase()).filter((w) => w.length >= 3);
  if (words.some((w) => lower.includes(w))) return 'The password must not contain the username, the user\'s name or the name of this service.';
  const result = passwordEstimator().check(password.slice(0, 100), words);
  if (result.guesses < MIN_GUESSES) {
    const why = result.feedback.warning ? ` ${result.feedback.warning}` : '';
    return `This password is too easy to guess (it is common, a known breached password, or a simple pattern).${why} Choose a longer one: a few unrelated words work well.`;
  }
  return null;
}
