// Where a letter's texts and keys are cut to a number of bytes: never inside a character.

/**
 * Where to cut `bytes` at `max` (or their end) without cutting a UTF-8 character in two: before
 * the last character's first byte when the character does not end by then. Bytes that are not
 * UTF-8 are cut at most 3 bytes short of `max`.
 */
export function utf8Boundary(bytes: Uint8Array, max: number): number {
  const end = Math.min(max, bytes.length);
  let lead = end;
  while (lead > 0 && end - lead < 3 && ((bytes[lead - 1] as number) & 0xc0) === 0x80) lead--;
  if (lead === 0) return end;
  const first = bytes[lead - 1] as number;
  const length = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
  return lead - 1 + length <= end ? end : lead - 1;
}

/** The first bytes of `text` in UTF-8, at most `max`, never cutting a character in two. */
export function capUtf8(text: string, max: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= max) return text;
  // Room for the ellipsis (3 bytes).
  return `${bytes.subarray(0, utf8Boundary(bytes, max - 3)).toString()}…`;
}
