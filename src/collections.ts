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
 * `items` grouped by `keyOf`, two keys being one group where `same` says so: each group with the
 * key of its first item, in the order of their first items; a group keeps its items' order.
 * Meant for a few groups: each item is compared with every group's key.
 */
export function groupsBy<T, K>(items: Iterable<T>, keyOf: (item: T) => K, same: (a: K, b: K) => boolean): [K, T[]][] {
  const groups: [K, T[]][] = [];
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.find(([k]) => same(k, key));
    if (group === undefined) groups.push([key, [item]]);
    else group[1].push(item);
  }
  return groups;
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
