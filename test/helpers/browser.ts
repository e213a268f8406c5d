/**
 * A cookie-keeping fetch that does not follow redirects: a browser going through a login
 * flow one step at a time (deleted cookies are dropped from the jar).
 */
export function browser(): (url: string, init?: RequestInit) => Promise<Response> {
  const jar = new Map<string, string>();
  return async (url, init = {}) => {
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const value = pair!.slice(i + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(pair!.slice(0, i));
      else jar.set(pair!.slice(0, i), value);
    }
    return res;
  };
}

export type Browser = ReturnType<typeof browser>;
