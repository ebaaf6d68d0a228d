// Verifies jwt-edge-issued tokens with jose (an independent implementation).
// Usage: node jose_verify.mjs JWKS_FILE ISSUER AUDIENCE NOW_UNIX TOKEN...
// Prints one line per token: "ok <sub>" or "error <code>"; exits 0.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';

const [jwksFile, issuer, audience, now, ...tokens] = process.argv.slice(2);
const keys = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')));
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      issuer,
      audience,
      typ: 'at+jwt',
      currentDate: new Date(Number(now) * 1000),
      requiredClaims: ['iss', 'sub', 'aud', 'iat', 'nbf', 'exp', 'jti', 'scope', 'client_id'],
    });
    console.log(`ok ${protectedHeader.alg} ${payload.sub}`);
  } catch (e) {
    console.log(`error ${e.code ?? e.name}`);
  }
}
