import type { en } from './locales/en.js';

/** Every message of the pages, named by its key in the English catalogue. */
export type MessageKey = keyof typeof en;
/** Text with `{name}` placeholders, or plural forms keyed by Intl.PluralRules category (`other` always). */
export type Message = string | ({ other: string } & Partial<Record<Intl.LDMLPluralRule, string>>);
/** A whole language: a message for every key of the English catalogue (a missing key fails typecheck). */
export type Catalogue = Record<MessageKey, Message>;
