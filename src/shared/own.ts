/**
 * Lookups keyed by request data (a gateway name from a URL, a tool name from a call, a user
 * id from a token) must never reach `Object.prototype`: `config.gateways['constructor']` is a
 * function, not undefined. Every such lookup goes through `own()`.
 */

/**
 * The record's own value at `key`, or undefined — never an inherited property.
 *
 * @example own(config.gateways, req.params.gateway) // undefined for "constructor", "__proto__", "toString"
 */
export function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * Set `record[key]` as an own, enumerable property — also when `key` is `__proto__`, which a
 * plain assignment would turn into a prototype change (and the entry would vanish).
 */
export function setOwn<V>(record: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
