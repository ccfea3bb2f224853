import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './settings.js';

/**
 * The registration files of one folder (`config/clients/`, `saml/`, `agents/`, `radius/`): every
 * `*.json` in name order, each parsed as JSON, with the file's path for messages. A folder that does
 * not exist holds none; a file that is not JSON stops the start naming it. `rewrite` may change the
 * text before it is parsed (`${ISSUER}` in client files).
 */
export function readJsonFolder(dir: string, rewrite: (text: string) => string = (t) => t): { file: string; raw: unknown }[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return names.map((name) => {
    const file = path.join(dir, name);
    try {
      return { file, raw: JSON.parse(rewrite(readFileSync(file, 'utf8'))) as unknown };
    } catch (err) {
      throw new ConfigError(file, '(file)', `not valid JSON: ${(err as Error).message}`);
    }
  });
}
