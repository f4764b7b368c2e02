/** The value under `key`, created by `make` and stored on first use. */
export function getOrCreate<K, V>(
  map: { get(key: K): V | undefined; set(key: K, value: V): unknown },
  key: K,
  make: () => V,
): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/**
 * `items` in order, cut into runs whose `size` adds up to at most `budget` and that hold at most
 * `maxCount` items; an item larger than the budget goes alone.
 */
export function chunksBySize<T>(
  items: readonly T[],
  budget: number,
  size: (item: T) => number,
  maxCount = Number.POSITIVE_INFINITY,
): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let total = 0;
  for (const item of items) {
    const n = size(item);
    if (current.length > 0 && (total + n > budget || current.length >= maxCount)) {
      out.push(current);
      current = [];
      total = 0;
    }
    current.push(item);
    total += n;
  }
  if (current.length > 0) out.push(current);
  return out;
}
