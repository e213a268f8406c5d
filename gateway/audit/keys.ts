/**
 * The audit trail's signing key: Ed25519 (RFC 8032), signing checkpoints. Its public half is
 * what `skillgate audit verify` needs — online, and offline on an export — and is named by its
 * RFC 7638 JWK thumbprint (`keyId`), written into every checkpoint.
 *
 * One machine: generated on first use into `<stateDir>/keys/audit-signing.key` (PKCS#8 PEM,
 * 0600). Several: `audit.signingKey` in skillgate.yaml, a secret reference to a PKCS#8 PEM or to
 * a base64url 32-byte Ed25519 seed. The private key never leaves the process (no log, no error
 * message, no child).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { AuditError } from './errors.js';

/** Signs checkpoints. */
export interface CheckpointSigner {
  keyId: string;
  sign(payload: string): string;
  /** PEM (SPKI) of the public key. */
  publicKeyPem: string;
}

/** Where the generated key lives. */
export function auditKeyFile(stateDir: string): string {
  return join(stateDir, 'keys', 'audit-signing.key');
}

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 §7): this DER prefix, then the 32 bytes.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A private key from PEM text or a base64url 32-byte seed. Messages never show the key. */
export function decodeAuditKey(text: string, where: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) key = createPrivateKey(trimmed);
    else if (/^[A-Za-z0-9_-]{43}=?$/.test(trimmed)) {
      key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(trimmed, 'base64url')]), format: 'der', type: 'pkcs8' });
    } else throw new Error('neither PEM nor a base64url 32-byte seed');
  } catch (err) {
    throw new AuditError('ERR_AUDIT_KEY', `${where}: not a usable audit signing key (${(err as Error).message.split('\n')[0]}); expected an Ed25519 PKCS#8 PEM or a base64url 32-byte seed`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AuditError('ERR_AUDIT_KEY', `${where}: the audit signing key must be Ed25519, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** The key in `<stateDir>/keys/audit-signing.key`, created (0600) when missing; concurrent starts agree on one. */
export function loadOrCreateAuditKey(stateDir: string): KeyObject {
  const file = auditKeyFile(stateDir);
  try {
    return decodeAuditKey(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  try {
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(file, 0o600);
  return decodeAuditKey(readFileSync(file, 'utf8'), file);
}

/** RFC 7638 thumbprint of an Ed25519 public key. */
export async function keyIdOf(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(publicKey.export({ format: 'jwk' }) as JWK, 'sha256');
}

/** A signer over a private key. */
export async function checkpointSigner(privateKey: KeyObject): Promise<CheckpointSigner> {
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: await keyIdOf(publicKey),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    sign: (payload) => sign(null, Buffer.from(payload), privateKey).toString('base64url'),
  };
}

/** Public keys by key id, for verification. */
export type VerificationKeys = ReadonlyMap<string, KeyObject>;

/** Public keys from PEM texts (SPKI, or a private key whose public half is taken). */
export async function verificationKeys(pems: ReadonlyArray<{ text: string; where: string }>): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>();
  for (const { text, where } of pems) {
    let key: KeyObject;
    try {
      key = text.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(text)) : createPublicKey(text);
    } catch (err) {
      throw new AuditError('ERR_AUDIT_KEY', `${where}: not a public key in PEM (${(err as Error).message.split('\n')[0]})`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new AuditError('ERR_AUDIT_KEY', `${where}: expected an Ed25519 public key, got ${key.asymmetricKeyType ?? 'unknown'}`);
    keys.set(await keyIdOf(key), key);
  }
  return keys;
}

/** Whether `signature` (base64url) is `key`'s Ed25519 signature of `payload`. */
export function verifySignature(payload: string, signature: string, key: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(payload), key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}
