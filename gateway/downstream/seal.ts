/**
 * AES-256-GCM for the vault: every record sealed under the vault key with a fresh 96-bit
 * nonce, and additional authenticated data binding it to (workspace, user, agent, provider) —
 * a record copied onto another user's row does not open (NIST SP 800-38D).
 *
 *   sealed = "v1." + base64url(nonce ‖ ciphertext ‖ tag)
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DownstreamError } from './errors.js';

const VERSION = 'v1.';

/** Decode a vault key (base64url, exactly 32 bytes). Messages never show the key. */
export function decodeVaultKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const key = /^[A-Za-z0-9_-]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64url') : Buffer.alloc(0);
  if (key.byteLength !== 32) {
    throw new DownstreamError('ERR_VAULT_KEY_INVALID', `${where}: the vault key must be 32 bytes, base64url (generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))")`);
  }
  return key;
}

/** A fingerprint safe to print: `sha256:<16 hex>` of the key. */
export function keyFingerprint(key: Buffer): string {
  return `sha256:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

export function seal(key: Buffer, plaintext: string, aad: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return VERSION + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
}

/** Open a sealed value; undefined when the key, the AAD or the bytes are not the ones it was sealed with. */
export function open(key: Buffer, sealed: string, aad: string): string | undefined {
  if (!sealed.startsWith(VERSION)) return undefined;
  const raw = Buffer.from(sealed.slice(VERSION.length), 'base64url');
  if (raw.byteLength < 12 + 16) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.byteLength - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.byteLength - 16)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
