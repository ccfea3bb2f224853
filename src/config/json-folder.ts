import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { repeatedMember } from '../http/json-members.js';
import { ConfigError } from './settings.js';

/**
 * A registration file's text as JSON, strictly. JSON.parse's own message quotes the text around
 * the error (red-team: `"client_secret": hunter2-…` without quotes printed part of the secret), so
 * the message names only the file; a name given twice in one object is refused (JSON.parse keeps the
 * last silently, while a reader of the file sees the first).
 */
export function parseConfigJson(file: string, text: string, what = 'not valid JSON'): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(file, '(file)', `${what} (check its quotes, commas and brackets; JSON has no comments)`);
  }
  const twice = repeatedMember(text);
  if (twice !== null) throw new ConfigError(file, twice.slice(0, 80), 'is given twice in one object of the file');
  return raw;
}

/**
 * The registration files of one folder (`config/clients/`, `saml/`, `agents/`, `radius/`): every
 * `*.json` in name order, each parsed as JSON, with the file's path for messages. A folder that does
 * not exist holds none; one that cannot be read (a file by that name, no permission) stops the start,
 * and so does a file that is not JSON, naming it. `rewrite` may change the text before it is parsed
 * (`${ISSUER}` in client files).
 */
export function readJsonFolder(dir: string, rewrite: (text: string) => string = (t) => t): { file: string; raw: unknown }[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(dir, '(folder)', `cannot be read as a folder (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return names.map((name) => {
    const file = path.join(dir, name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(file, '(file)', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return { file, raw: parseConfigJson(file, rewrite(text)) };
  });
}

/**
 * The configuration folder must be there (red-team: a CONFIG_DIR that did not exist, or a start
 * from another working directory, ran with no apps and no word, the banner still naming the demo).
 */
export function requireFolder(dir: string, setting: string): void {
  let isFolder = false;
  try {
    isFolder = statSync(dir).isDirectory();
  } catch {
    // absent or unreadable: said below
  }
  if (!isFolder) throw new ConfigError('environment', setting, `${dir} is not a folder (start from the project's root, or set ${setting})`);
}
