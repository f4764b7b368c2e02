// xxHash32, the checksum of an LZ4 frame's header (its descriptor), which Kafka checks.

/** xxHash32 with seed 0, which an LZ4 frame's header checksum is made of. */
export function xxh32(data: Buffer): number {
  const P1 = 2654435761;
  const P2 = 2246822519;
  const P3 = 3266489917;
  const P4 = 668265263;
  const P5 = 374761393;
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  const round = (acc: number, lane: number) => Math.imul(rotl((acc + Math.imul(lane, P2)) >>> 0, 13), P1) >>> 0;
  let at = 0;
  let h: number;
  if (data.length >= 16) {
    const v = [(P1 + P2) >>> 0, P2, 0, (0 - P1) >>> 0];
    for (; at + 16 <= data.length; at += 16) {
      for (let i = 0; i < 4; i++) v[i] = round(v[i] as number, data.readUInt32LE(at + 4 * i));
    }
    h = (rotl(v[0] as number, 1) + rotl(v[1] as number, 7) + rotl(v[2] as number, 12) + rotl(v[3] as number, 18)) >>> 0;
  } else h = P5;
  h = (h + data.length) >>> 0;
  for (; at + 4 <= data.length; at += 4)
    h = Math.imul(rotl((h + Math.imul(data.readUInt32LE(at), P3)) >>> 0, 17), P4) >>> 0;
  for (; at < data.length; at++) h = Math.imul(rotl((h + Math.imul(data[at] as number, P5)) >>> 0, 11), P1) >>> 0;
  h = Math.imul(h ^ (h >>> 15), P2) >>> 0;
  h = Math.imul(h ^ (h >>> 13), P3) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
