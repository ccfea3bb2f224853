/*
 * Writes a tiny MaxMind DB (format spec 2.0, https://maxmind.github.io/MaxMind-DB/) in memory, so
 * the GeoIP lookup is tested against the real reader without shipping a licensed database.
 * IPv4 tree, 24-bit records; only the value types our lookup and the metadata need.
 */

type Enc = Buffer;

const ctrl = (type: number, size: number): Buffer => {
  if (size >= 29) throw new Error('tiny writer: value too long');
  return type <= 7 ? Buffer.from([(type << 5) | size]) : Buffer.from([size, type - 7]);
};
const uint = (type: number, n: number | bigint): Enc => {
  const bytes: number[] = [];
  for (let v = BigInt(n); v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  return Buffer.concat([ctrl(type, bytes.length), Buffer.from(bytes)]);
};
export const str = (s: string): Enc => Buffer.concat([ctrl(2, Buffer.byteLength(s)), Buffer.from(s)]);
export const u16 = (n: number): Enc => uint(5, n);
export const u32 = (n: number): Enc => uint(6, n);
const u64 = (n: number): Enc => uint(9, n);
const arr = (items: Enc[]): Enc => Buffer.concat([ctrl(11, items.length), ...items]);
export const map = (o: Record<string, Enc>): Enc =>
  Buffer.concat([ctrl(7, Object.keys(o).length), ...Object.entries(o).flatMap(([k, v]) => [str(k), v])]);

/** A GeoIP2-City-shaped record. */
export function cityRecord(country: string, city?: string): Enc {
  const names = (en: string): Enc => map({ names: map({ en: str(en) }) });
  return map(city ? { city: names(city), country: names(country) } : { country: names(country) });
}

interface Node { kids: [Node | number | null, Node | number | null] }

/** networks: [ 'a.b.c.d', prefixLength, encoded record ] */
export function buildMmdb(networks: Array<[string, number, Enc]>): Buffer {
  const root: Node = { kids: [null, null] };
  const data: Enc[] = [];
  const offsets: number[] = [];
  let dataLen = 0;
  for (const [ip, prefix, rec] of networks) {
    offsets.push(dataLen);
    data.push(rec);
    dataLen += rec.length;
    const bits = ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
    let node = root;
    for (let d = 0; d < prefix; d++) {
      const bit = Number((bits >> BigInt(31 - d)) & 1n);
      if (d === prefix - 1) node.kids[bit] = offsets.length - 1;
      else {
        const next = node.kids[bit];
        if (typeof next === 'number') throw new Error('tiny writer: nested networks unsupported');
        node = next ?? (node.kids[bit] = { kids: [null, null] });
      }
    }
  }
  const nodes: Node[] = [];
  const queue = [root];
  while (queue.length) {
    const n = queue.shift()!;
    nodes.push(n);
    for (const k of n.kids) if (k && typeof k === 'object') queue.push(k);
  }
  const count = nodes.length;
  const tree = Buffer.alloc(count * 6);
  nodes.forEach((n, i) => n.kids.forEach((k, side) => {
    const value = k === null ? count : typeof k === 'number' ? count + 16 + offsets[k]! : nodes.indexOf(k);
    tree.writeUIntBE(value, i * 6 + side * 3, 3);
  }));
  const metadata = map({
    node_count: u32(count),
    record_size: u16(24),
    ip_version: u16(4),
    database_type: str('Test-City'),
    languages: arr([str('en')]),
    binary_format_major_version: u16(2),
    binary_format_minor_version: u16(0),
    build_epoch: u64(1_700_000_000),
    description: map({ en: str('tiny test database') }),
  });
  const marker = Buffer.from('ABCDEF4D61784D696E642E636F6D', 'hex');
  return Buffer.concat([tree, Buffer.alloc(16), ...data, marker, metadata]);
}
