// The order in which a transaction writes rows into an index is the order in which it takes their
// locks there. Two transactions that both write in the server's own order of the index can't each
// hold a lock the other waits for, so they can't deadlock each other on it.
//
// Key columns compare as binary code points (utf8mb4_nopad_bin or utf8mb4_0900_bin, migration
// 004), which is the order of their UTF-8 bytes. JavaScript's `<` compares UTF-16 code units, which
// differs where a character beyond U+FFFF (a surrogate pair, U+D800–U+DFFF) meets one of
// U+E000–U+FFFF: the code unit is smaller, the code point larger.

/** Negative, zero or positive as `a` sorts before, with or after `b` in a binary key column. */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** A code unit's place among code points: surrogates (the start of U+10000 and above) after U+FFFF. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/** Sorts `items` in place by their key in the server's order of a binary key column. */
export function sortByKey<T>(items: T[], key: (item: T) => string): T[] {
  return items.sort((a, b) => compareKeys(key(a), key(b)));
}
