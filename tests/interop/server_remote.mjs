// Against a running `jwt-edge serve`: discovers the endpoints (RFC 8414),
// obtains a token from /token (HTTP Basic), and verifies it with jose's
// createRemoteJWKSet pointed at the server and with the jwt-edge npm package
// fed from the server's JWKS and signed revocation list.
// Usage: node server_remote.mjs BASE_URL CLIENT_ID CLIENT_SECRET ISSUER AUDIENCE [TOKEN...]
// The extra TOKENs are verified too. Prints one JSON line per check; exits 0.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [base, clientId, secret, issuer, audience, ...extra] = process.argv.slice(2);
const meta = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
const rewrite = (u) => u.replace(meta.issuer, base); // the issuer URL is not this loopback server
const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
const res = await fetch(rewrite(meta.token_endpoint), {
  method: 'POST',
  headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
  body: 'grant_type=client_credentials&scope=read',
});
const body = await res.json();
console.log(JSON.stringify({ check: 'token', status: res.status, token_type: body.token_type }));
const tokens = [body.access_token, ...extra];

const jwks = createRemoteJWKSet(new URL(rewrite(meta.jwks_uri)));
for (const [i, token] of tokens.entries()) {
  try {
    const { protectedHeader } = await jwtVerify(token, jwks, { issuer, audience, typ: 'at+jwt' });
    console.log(JSON.stringify({ check: 'jose', i, ok: true, alg: protectedHeader.alg }));
  } catch (e) {
    console.log(JSON.stringify({ check: 'jose', i, ok: false, code: e.code ?? e.name }));
  }
}

let Validator;
try {
  ({ Validator } = await import('jwt-edge'));
} catch {
  console.log(JSON.stringify({ check: 'jwt-edge', skipped: 'package not built (pkg-scripts/build)' }));
  process.exit(0);
}
const v = new Validator({
  jwks: await (await fetch(rewrite(meta.jwks_uri))).text(),
  issuer,
  audience,
  typ: 'at+jwt',
});
v.setRevocations(await (await fetch(`${base}/revocations`)).text());
for (const [i, token] of tokens.entries()) {
  try {
    await v.verify(token);
    console.log(JSON.stringify({ check: 'jwt-edge', i, ok: true }));
  } catch (e) {
    console.log(JSON.stringify({ check: 'jwt-edge', i, ok: false, code: e.code ?? e.name }));
  }
}
