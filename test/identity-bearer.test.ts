/**
 * Bearer tokens on the wire: header-only extraction (RFC 6750 §2.1), the challenges a 401/403
 * carries (RFC 6750 §3, RFC 9728 §5.1, MCP authorization 2025-11-25) and the RFC 9728 document.
 */
import { describe, expect, it } from 'vitest';
import { bearerRefusal, bearerToken, wwwAuthenticate } from '../gateway/identity/bearer.js';
import { AuthError, type AuthErrorCode, insufficientScope, isAuthError } from '../gateway/identity/errors.js';
import { protectedResourceMetadata, resourceMetadataUrl, resourceUrl } from '../gateway/identity/resource-metadata.js';
import { configSchema } from '../src/config/schema.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJpbnRlcm4ifQ.c2ln';

function code(fn: () => unknown): AuthErrorCode | 'no error' {
  try {
    fn();
    return 'no error';
  } catch (err) {
    if (!isAuthError(err)) throw err;
    return err.code;
  }
}

describe('bearerToken: the Authorization header only', () => {
  it('takes the token from "Bearer <token>", scheme case-insensitive', () => {
    expect(bearerToken({ authorization: `Bearer ${JWT}` })).toBe(JWT);
    expect(bearerToken({ authorization: `bearer ${JWT}` })).toBe(JWT);
    expect(bearerToken({ authorization: `BEARER  ${JWT} ` })).toBe(JWT);
    expect(bearerToken({ authorization: 'Bearer abc+/~_-.==', url: '/mcp/hr-desk?x=1', body: { jsonrpc: '2.0' } })).toBe('abc+/~_-.==');
  });

  it('refuses each other shape with its own code', () => {
    expect(code(() => bearerToken({}))).toBe('ERR_TOKEN_MISSING');
    expect(code(() => bearerToken({ authorization: '' }))).toBe('ERR_TOKEN_MISSING');
    expect(code(() => bearerToken({ authorization: 'Bearer' }))).toBe('ERR_TOKEN_MISSING');
    expect(code(() => bearerToken({ authorization: 'Basic aW50ZXJuOnB3' }))).toBe('ERR_TOKEN_SCHEME');
    expect(code(() => bearerToken({ authorization: ['Bearer a', 'Bearer b'] }))).toBe('ERR_TOKEN_SCHEME');
    expect(code(() => bearerToken({ authorization: 'Bearer two tokens' }))).toBe('ERR_TOKEN_MALFORMED');
    expect(code(() => bearerToken({ authorization: 'Bearer tok"en' }))).toBe('ERR_TOKEN_MALFORMED');
  });

  it('refuses a token in the URL or the body, even alongside a good header (RFC 6750 §2.2–2.3)', () => {
    expect(code(() => bearerToken({ url: `/mcp/hr-desk?access_token=${JWT}` }))).toBe('ERR_TOKEN_IN_QUERY');
    expect(code(() => bearerToken({ authorization: `Bearer ${JWT}`, url: `/mcp/hr-desk?a=1&access_token=${JWT}` }))).toBe('ERR_TOKEN_IN_QUERY');
    expect(code(() => bearerToken({ body: { access_token: JWT } }))).toBe('ERR_TOKEN_IN_BODY');
    const err = (() => {
      try {
        bearerToken({ url: `/mcp/hr-desk?access_token=${JWT}` });
      } catch (e) {
        return e as AuthError;
      }
      throw new Error('not refused');
    })();
    expect(err.status).toBe(400);
    expect(err.bearerError).toBe('invalid_request');
    expect(err.publicMessage).toMatch(/Authorization header/);
    expect(`${err.message} ${err.detail}`).not.toContain(JWT);
  });
});

describe('challenges', () => {
  const meta = 'http://127.0.0.1:8787/.well-known/oauth-protected-resource/mcp/hr-desk';

  it('asks a request without credentials to authenticate, without an error code (RFC 6750 §3.1)', () => {
    const r = bearerRefusal(new AuthError('ERR_TOKEN_MISSING', 'no header'), { resourceMetadataUrl: meta });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe(`Bearer resource_metadata="${meta}", scope="openid mcp"`);
    expect(r.body).toEqual({ error: 'unauthorized', error_description: 'a Bearer token is required' });
  });

  it('names invalid_token and the public description only, never the internal detail', () => {
    const err = new AuthError('ERR_TOKEN_AUDIENCE', 'aud http://127.0.0.1:8787/mcp/credit-desk does not include http://127.0.0.1:8787/mcp/hr-desk');
    const r = bearerRefusal(err, { resourceMetadataUrl: meta });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${meta}", scope="openid mcp", error="invalid_token", error_description="the token was not issued for this resource"`,
    );
    expect(JSON.stringify(r)).not.toContain('credit-desk');
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it('answers a step-up with 403 insufficient_scope naming the scopes needed', () => {
    const err = insufficientScope(['mcp', 'hr.read'], ['mcp']);
    expect(err.code).toBe('ERR_INSUFFICIENT_SCOPE');
    const r = bearerRefusal(err, { resourceMetadataUrl: meta });
    expect(r.status).toBe(403);
    expect(r.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${meta}", scope="mcp hr.read", error="insufficient_scope", error_description="the token lacks the scope this request needs"`,
    );
    expect(err.detail).toContain('hr.read');
  });

  it('answers an unreachable issuer with 503 and Retry-After, so clients do not restart their login', () => {
    const r = bearerRefusal(new AuthError('ERR_ISSUER_UNREACHABLE', 'discovery failed'), { resourceMetadataUrl: meta });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.body.error).toBe('temporarily_unavailable');
    expect(r.headers['www-authenticate']).not.toContain('error=');
  });

  it('keeps quoted strings clean of quotes and backslashes', () => {
    expect(wwwAuthenticate({ resourceMetadataUrl: 'http://h/"x\\', scope: ['a"b'] })).toBe('Bearer resource_metadata="http://h/x", scope="ab"');
  });
});

describe('RFC 9728 metadata', () => {
  const config = configSchema.parse({
    workspace: 'w',
    publicUrl: 'https://gw.example.com/skillgate/',
    identity: { issuers: [{ issuer: 'https://login.example.com/tenant' }], devIdp: true },
    agents: { 'hr-assistant': { clientId: 'hr' } },
    gateways: { 'hr-desk': { description: 'People questions', agents: ['hr-assistant'] }, 'dev-tools': {} },
  });

  it('puts the well-known segment between host and path (RFC 9728 §3.1)', () => {
    expect(resourceUrl(config.publicUrl, 'hr-desk')).toBe('https://gw.example.com/skillgate/mcp/hr-desk');
    expect(resourceMetadataUrl(config.publicUrl, 'hr-desk')).toBe('https://gw.example.com/.well-known/oauth-protected-resource/skillgate/mcp/hr-desk');
    expect(resourceMetadataUrl('http://127.0.0.1:8787', 'hr-desk')).toBe('http://127.0.0.1:8787/.well-known/oauth-protected-resource/mcp/hr-desk');
  });

  it('describes a gateway: resource, authorization servers (with the dev IdP), header-only bearer', () => {
    expect(protectedResourceMetadata(config, 'hr-desk')).toEqual({
      resource: 'https://gw.example.com/skillgate/mcp/hr-desk',
      authorization_servers: ['https://login.example.com/tenant', 'https://gw.example.com/skillgate/idp'],
      scopes_supported: ['openid', 'mcp'],
      bearer_methods_supported: ['header'],
      resource_name: 'People questions',
    });
    expect(protectedResourceMetadata(config, 'dev-tools')?.resource_name).toBe('Skillgate gateway dev-tools');
    expect(protectedResourceMetadata(config, 'nope')).toBeUndefined();
    expect(protectedResourceMetadata(config, 'constructor')).toBeUndefined();
  });

  it('lists only the configured issuers when the dev IdP is off', () => {
    const prod = { ...config, identity: { ...config.identity, devIdp: false } };
    expect(protectedResourceMetadata(prod, 'hr-desk')?.authorization_servers).toEqual(['https://login.example.com/tenant']);
  });
});
