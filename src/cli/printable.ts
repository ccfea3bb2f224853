/**
 * What the admin CLI prints of stored text (usernames, device names, audit records, errors), made
 * safe for a terminal. A terminal acts on control characters (ESC sequences retitle and clear it,
 * C1's CSI does in some) and bidi controls reorder what a line shows; text from a request, an
 * upstream's claims or a hand-edited row could hold them.
 */

/** Pure: control, bidi and line-separator characters (tab and newline kept) as `\uXXXX`. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Pure: one row of a tab-separated listing, each cell printable and kept to its column (its own tabs and newlines escaped). */
export function tableRow(cells: readonly string[]): string {
  return cells.map((c) => printable(c).replace(/\t/g, '\\t').replace(/\n/g, '\\n')).join('\t');
}
