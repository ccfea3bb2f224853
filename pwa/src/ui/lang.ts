import { phoneLanguages, pickLanguage, translator, type MessageKey } from '../i18n.js';

/**
 * The pages' language: the first of the phone's languages the app has a catalogue for (i18n.ts),
 * else English. app.ts sets <html lang> to it; dates and times are formatted in it too.
 */
export const pageLanguage = pickLanguage(phoneLanguages());
export const t = translator(pageLanguage);

/**
 * A message with elements in it ("Someone is signing in to {app}…" with the app in <strong>): the
 * translated text split at its placeholders, so each language keeps its own word order. Text only.
 */
export function tNodes(key: MessageKey, parts: Record<string, Node | string>): (Node | string)[] {
  return t(key).split(/(\{\w+\})/).filter((s) => s !== '').map((s) => {
    const m = /^\{(\w+)\}$/.exec(s);
    return m && m[1]! in parts ? parts[m[1]!]! : s;
  });
}
