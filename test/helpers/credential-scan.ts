/**
 * Finds credentials in bytes (a workflow history, a file): any `Bearer ` value, and any
 * JWT-shaped string that is not one of the run's own attestations (typ skillgate-run+jwt /
 * skillgate-approval+jwt: bound to the run, granting nothing upstream — docs/security.md).
 */
export function credentialsIn(bytes: Buffer): string[] {
  const text = bytes.toString('latin1');
  const found: string[] = [];
  if (text.includes('Bearer ')) found.push('a Bearer value');
  for (const m of text.matchAll(/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g)) {
    let typ: unknown;
    try {
      typ = (JSON.parse(Buffer.from(m[0].split('.')[0]!, 'base64url').toString('utf8')) as { typ?: unknown }).typ;
    } catch {
      typ = undefined;
    }
    if (typ !== 'skillgate-run+jwt' && typ !== 'skillgate-approval+jwt') found.push(`a JWT (typ ${String(typ)})`);
  }
  return found;
}
