#!/usr/bin/env node
/**
 * A demo mail system as its own process, for `skillgate dev` (servers.<s>.transport: http):
 *
 *   node dist/demo/mail/main.js --flavor gmail|outlook --client-secret <s> [--port 0]
 *
 * Listens on 127.0.0.1, prints its MCP URL as the first line of standard output. Skillgate's
 * redirect URI is `<SKILLGATE_PUBLIC_URL>/connect/<flavor>/callback` (the environment
 * Skillgate gives the servers it starts); the OAuth client id is `skillgate`.
 */
import { parseArgs } from 'node:util';
import { startMailSystem } from './server.js';

const { values } = parseArgs({
  options: { flavor: { type: 'string' }, 'client-secret': { type: 'string' }, 'client-id': { type: 'string', default: 'skillgate' }, port: { type: 'string', default: '0' }, provider: { type: 'string' } },
  strict: true,
});
const flavor = values.flavor;
if (flavor !== 'gmail' && flavor !== 'outlook') {
  process.stderr.write('usage: main.js --flavor gmail|outlook --client-secret <secret> [--port 0] [--provider <name in skillgate.yaml>]\n');
  process.exit(2);
}
const secret = values['client-secret'] ?? process.env.MAIL_CLIENT_SECRET;
const publicUrl = process.env.SKILLGATE_PUBLIC_URL;
if (!secret || !publicUrl) {
  process.stderr.write('the client secret (--client-secret or MAIL_CLIENT_SECRET) and SKILLGATE_PUBLIC_URL are required\n');
  process.exit(2);
}
const mail = await startMailSystem({
  flavor,
  clientId: values['client-id']!,
  clientSecret: secret,
  redirectUris: [`${publicUrl}/connect/${values.provider ?? flavor}/callback`],
  port: Number(values.port),
});
process.stdout.write(`${mail.mcpUrl}\n`);
process.stderr.write(`${flavor} mail: MCP ${mail.mcpUrl}, authorization server ${mail.issuer}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void mail.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Skillgate keeps our standard input open while it runs: when it ends (even killed), so do we.
process.stdin.on('end', stop).on('close', stop).resume();
