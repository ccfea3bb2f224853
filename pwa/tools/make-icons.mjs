// Draws the app icons as PNG files (pwa/icons/). Run once by hand: node pwa/tools/make-icons.mjs
// A blue tile with a white disc and a blue tick; shapes are sampled 4x4 per pixel for smooth edges.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const BLUE = [23, 70, 162];
const WHITE = [255, 255, 255];

const crcTable = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
/** RGBA pixels -> PNG (8-bit, colour type 6, filter 0 on every row). */
function png(size, rgba) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

function segDist(px, py, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/**
 * tile: 'rounded' (transparent corners), 'full' (edge to edge), 'none' (transparent, white disc, tick cut out).
 * disc: radius of the white disc as a fraction of the size (maskable icons keep it in the safe zone).
 */
function draw(size, { tile, disc }) {
  const px = Buffer.alloc(size * size * 4);
  const S = 4;
  const c = 0.5, r = disc, w = 0.055 * (disc / 0.32);
  const tick = [[c - 0.14 * (r / 0.32), c + 0.0], [c - 0.035 * (r / 0.32), c + 0.105 * (r / 0.32)], [c + 0.155 * (r / 0.32), c - 0.11 * (r / 0.32)]];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let acc = [0, 0, 0, 0];
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          const u = (x + (sx + 0.5) / S) / size, v = (y + (sy + 0.5) / S) / size;
          let col = null;
          if (tile === 'full') col = BLUE;
          else if (tile === 'rounded') {
            const k = 0.18, qx = Math.max(Math.abs(u - 0.5) - (0.5 - k), 0), qy = Math.max(Math.abs(v - 0.5) - (0.5 - k), 0);
            if (Math.hypot(qx, qy) <= k) col = BLUE;
          }
          const inDisc = Math.hypot(u - c, v - c) <= r;
          const onTick = Math.min(segDist(u, v, ...tick[0], ...tick[1]), segDist(u, v, ...tick[1], ...tick[2])) <= w / 2;
          if (inDisc) col = onTick ? (tile === 'none' ? null : BLUE) : WHITE;
          if (col) acc = [acc[0] + col[0], acc[1] + col[1], acc[2] + col[2], acc[3] + 255];
        }
      }
      const n = S * S, a = acc[3] / n, i = (y * size + x) * 4;
      const cov = acc[3] / 255 || 1;
      px[i] = Math.round(acc[0] / cov);
      px[i + 1] = Math.round(acc[1] / cov);
      px[i + 2] = Math.round(acc[2] / cov);
      px[i + 3] = Math.round(a);
    }
  }
  return png(size, px);
}

const out = new URL('../icons/', import.meta.url);
const icons = {
  'icon-192.png': draw(192, { tile: 'rounded', disc: 0.32 }),
  'icon-512.png': draw(512, { tile: 'rounded', disc: 0.32 }),
  // Maskable: the safe zone is the central circle of radius 0.4; the disc stays well inside.
  'maskable-192.png': draw(192, { tile: 'full', disc: 0.27 }),
  'maskable-512.png': draw(512, { tile: 'full', disc: 0.27 }),
  // iOS rounds the corners itself and shows transparency as black: full bleed.
  'apple-touch-icon.png': draw(180, { tile: 'full', disc: 0.3 }),
  // Android shows only the alpha channel of the notification badge.
  'badge-96.png': draw(96, { tile: 'none', disc: 0.42 }),
};
for (const [name, data] of Object.entries(icons)) writeFileSync(new URL(name, out), data);
console.log(`wrote ${Object.keys(icons).length} icons to ${out.pathname}`);
