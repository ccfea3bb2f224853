/**
 * Pure: the first member name an object of this JSON text repeats, or null (compared decoded:
 * "a" and "\u0061" are one name). RFC 8259 4 leaves a repeated name's meaning to the reader, and
 * readers differ: JSON.parse keeps the last, a gateway or WAF in front may read the first (red-team:
 * `{"username":"alice","username":"bob"}` checked bob's password while a proxy saw alice). I-JSON
 * (RFC 7493 2.3) forbids them. `text` must already be valid JSON (JSON.parse took it).
 */
export function repeatedMember(text: string): string | null {
  const objects: Array<Set<string> | null> = []; // null: an array
  let atKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const names = objects.at(-1);
      if (atKey && names) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (names.has(name)) return name;
        names.add(name);
      }
      atKey = false;
      i = end;
    } else if (c === '{') {
      objects.push(new Set());
      atKey = true;
    } else if (c === '[') {
      objects.push(null);
      atKey = false;
    } else if (c === '}' || c === ']') {
      objects.pop();
      atKey = false;
    } else if (c === ',') {
      atKey = objects.at(-1) instanceof Set;
    }
  }
  return null;
}
