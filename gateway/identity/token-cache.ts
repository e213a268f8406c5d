/**
 * A bounded least-recently-used map for verified tokens. Keys are SHA-256 digests (with the
 * audience), never tokens. It only stores: whether an entry may still be used (expiry,
 * not-before) is decided by the caller on every hit, so that a cached token is refused the
 * moment it expires.
 */
export class LruCache<V> {
  // A Map iterates in insertion order: re-inserting on a hit makes the first key the least recent.
  readonly #map = new Map<string, V>();

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  }

  get size(): number {
    return this.#map.size;
  }

  /** The entry, now the most recently used; undefined on a miss. */
  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  /** Insert (or refresh) an entry, evicting the least recently used one when full. */
  set(key: string, value: V): void {
    this.#map.delete(key);
    if (this.#map.size >= this.maxEntries) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    this.#map.set(key, value);
  }

  delete(key: string): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}
