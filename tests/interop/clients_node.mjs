// Node OAuth/JOSE client libraries against a running `jwt-edge serve`:
// oauth4webapi and openid-client (discovery, client credentials with
// client_secret_basic and client_secret_post, a wrong secret, RFC 7662
// introspection, RFC 7009 revocation) and jose (remote JWKS verification).
//
// Usage (tests/server_clients.rs runs it):
//   node tests/interop/clients_node.mjs BASE --key KEY --introspect-key KEY [--audience A]
// BASE is the server's URL, which is also the issuer; KEY is a provisioning
// key (jep_<16 hex id>_<43-char secret>); the introspect key has the
// `introspect` permission. The server is plain http on loopback, so both
// OAuth libraries get their documented allowInsecureRequests option.
//
// Each check prints one JSON line {lib, check, ok, ...details} and runs on its
// own: a failure is reported and the next check still runs. Exits 0 once every
// check ran (or 2 when the whole script overran its time limit).
import { parseArgs } from 'node:util';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, decodeJwt, importPKCS8, jwtVerify } from 'jose';

const TIMEOUT_MS = 10_000; // every HTTP request
setTimeout(() => {
  console.log(JSON.stringify({ lib: 'script', check: 'time_limit', ok: false, error: 'overran 90 s' }));
  process.exit(2);
}, 90_000).unref();

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    key: { type: 'string' },
    'introspect-key': { type: 'string' },
    audience: { type: 'string', default: 'https://api.test' },
    // private_key_jwt (RFC 7523): a client registered with an inline JWKS
    // whose PKCS#8 private keys are in DIR (tests/interop/client_keys.py).
    'jwt-client': { type: 'string' },
    'jwt-keys': { type: 'string' },
    'uri-client': { type: 'string' },
  },
});
const base = positionals[0]?.replace(/\/+$/, '');
if (!base || !opts.key || !opts['introspect-key']) {
  console.error('usage: clients_node.mjs BASE --key KEY --introspect-key KEY [--audience A]');
  process.exit(64);
}
const issuer = base;

/** A provisioning key's client_id (16 hex) and client_secret (43 chars). */
function splitKey(key) {
  const m = /^jep_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(key);
  if (!m) {
    console.error(`not a provisioning key: ${key.slice(0, 8)}...`);
    process.exit(64);
  }
  return { id: m[1], secret: m[2], key };
}
const owner = splitKey(opts.key);
const intro = splitKey(opts['introspect-key']);
const WRONG_SECRET = 'x'.repeat(43);

function emit(lib, check, ok, details = {}) {
  console.log(JSON.stringify({ lib, check, ok, ...details }));
}

/** Runs one check; it passes unless fn throws. */
async function check(lib, name, fn) {
  try {
    emit(lib, name, true, (await fn()) ?? {});
  } catch (e) {
    const details = { error: `${e?.name}: ${e?.message}` };
    if (e?.code) details.code = e.code;
    if (e?.error) details.oauth_error = e.error; // ResponseBodyError
    if (e?.status) details.status = e.status;
    if (e?.cause?.code) details.cause = e.cause.code;
    emit(lib, name, false, details);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Calls fn, which must fail with an OAuth error response `code` that the library parsed. */
async function expectOAuthError(code, fn) {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof oauth.ResponseBodyError, `not a ResponseBodyError: ${e?.name}: ${e?.message}`);
    assert(e.error === code, `error ${e.error}, expected ${code}`);
    return { oauth_error: e.error, status: e.status };
  }
  throw new Error(`no ${code} error`);
}

// ---- oauth4webapi ------------------------------------------------------------

const insecure = () => ({ [oauth.allowInsecureRequests]: true, signal: AbortSignal.timeout(TIMEOUT_MS) });
// The discovered metadata; if discovery fails the other checks use the default paths.
let as = {
  issuer,
  token_endpoint: `${base}/token`,
  revocation_endpoint: `${base}/revoke`,
  introspection_endpoint: `${base}/introspect`,
  jwks_uri: `${base}/.well-known/jwks.json`,
};

await check('oauth4webapi', 'discovery', async () => {
  const url = new URL(issuer);
  const response = await oauth.discoveryRequest(url, { algorithm: 'oauth2', ...insecure() });
  as = await oauth.processDiscoveryResponse(url, response);
  return { token_endpoint: as.token_endpoint };
});

async function o4wToken(who, auth, parameters = {}) {
  const c = { client_id: who.id };
  const response = await oauth.clientCredentialsGrantRequest(as, c, auth, parameters, insecure());
  return oauth.processClientCredentialsResponse(as, c, response);
}

async function o4wIntrospect(token) {
  const c = { client_id: intro.id };
  const response = await oauth.introspectionRequest(as, c, oauth.ClientSecretBasic(intro.secret), token, insecure());
  return oauth.processIntrospectionResponse(as, c, response);
}

let accessToken;
for (const [name, auth] of [
  ['client_secret_basic', oauth.ClientSecretBasic],
  ['client_secret_post', oauth.ClientSecretPost],
]) {
  await check('oauth4webapi', `token_${name}`, async () => {
    const t = await o4wToken(owner, auth(owner.secret));
    assert(t.token_type === 'bearer', `token_type ${t.token_type}`); // normalized to lower case
    accessToken ??= t.access_token;
    return { expires_in: t.expires_in, scope: t.scope };
  });
}

await check('oauth4webapi', 'token_wrong_secret', () =>
  expectOAuthError('invalid_client', () => o4wToken(owner, oauth.ClientSecretPost(WRONG_SECRET))),
);

let o4wRevoked;
await check('oauth4webapi', 'introspect_active', async () => {
  const { access_token } = await o4wToken(owner, oauth.ClientSecretBasic(owner.secret));
  o4wRevoked = access_token;
  const r = await o4wIntrospect(access_token);
  const claims = decodeJwt(access_token);
  assert(r.active === true, `active ${r.active}`);
  assert(r.client_id === owner.id, `client_id ${r.client_id}`);
  assert(r.scope === claims.scope, `scope ${r.scope}`);
  assert(r.exp === claims.exp, `exp ${r.exp}`);
  return { keys: Object.keys(r).sort() };
});

let o4wRevokeOk = false;
await check('oauth4webapi', 'revoke', async () => {
  o4wRevoked ??= (await o4wToken(owner, oauth.ClientSecretBasic(owner.secret))).access_token;
  const c = { client_id: owner.id };
  const response = await oauth.revocationRequest(as, c, oauth.ClientSecretPost(owner.secret), o4wRevoked, insecure());
  await oauth.processRevocationResponse(response);
  o4wRevokeOk = true;
});

await check('oauth4webapi', 'introspect_revoked', async () => {
  assert(o4wRevokeOk, 'no token was revoked (see the revoke check)');
  const r = await o4wIntrospect(o4wRevoked);
  assert(r.active === false, `active ${r.active}`);
  return { keys: Object.keys(r).sort() };
});

// ---- openid-client -----------------------------------------------------------

/** discovery() with RFC 8414 metadata; the secret is a string or {client_secret}. */
function discover(clientId, secret, auth) {
  return client.discovery(new URL(issuer), clientId, secret, auth, {
    algorithm: 'oauth2',
    execute: [client.allowInsecureRequests],
    timeout: TIMEOUT_MS / 1000,
  });
}

let ocConfig;
await check('openid-client', 'discovery', async () => {
  ocConfig = await discover(owner.id, owner.secret); // default auth: client_secret_post
  return { issuer: ocConfig.serverMetadata().issuer };
});

let ocToken;
await check('openid-client', 'token_client_secret_post', async () => {
  const t = await client.clientCredentialsGrant(ocConfig ?? (await discover(owner.id, owner.secret)));
  assert(t.token_type === 'bearer', `token_type ${t.token_type}`);
  ocToken = t.access_token;
  return { expires_in: t.expires_in, scope: t.scope };
});

await check('openid-client', 'token_client_secret_basic', async () => {
  // The other accepted spelling: client_id with its prefix, the whole key as secret.
  const config = await discover(`jep_${owner.id}`, owner.key, client.ClientSecretBasic());
  const t = await client.clientCredentialsGrant(config);
  assert(t.token_type === 'bearer', `token_type ${t.token_type}`);
  return { client_id_form: 'jep_<id>', secret_form: 'whole key', scope: t.scope };
});

await check('openid-client', 'token_wrong_secret', async () => {
  const config = await discover(owner.id, WRONG_SECRET);
  return expectOAuthError('invalid_client', () => client.clientCredentialsGrant(config));
});

let ocIntro;
await check('openid-client', 'introspect_active', async () => {
  ocIntro = await discover(intro.id, intro.secret, client.ClientSecretBasic());
  ocToken ??= (await client.clientCredentialsGrant(await discover(owner.id, owner.secret))).access_token;
  const r = await client.tokenIntrospection(ocIntro, ocToken);
  const claims = decodeJwt(ocToken);
  assert(r.active === true, `active ${r.active}`);
  assert(r.client_id === owner.id, `client_id ${r.client_id}`);
  assert(r.scope === claims.scope, `scope ${r.scope}`);
  assert(r.exp === claims.exp, `exp ${r.exp}`);
  return { keys: Object.keys(r).sort() };
});

let ocRevokeOk = false;
await check('openid-client', 'revoke', async () => {
  ocToken ??= (await client.clientCredentialsGrant(await discover(owner.id, owner.secret))).access_token;
  await client.tokenRevocation(ocConfig ?? (await discover(owner.id, owner.secret)), ocToken);
  ocRevokeOk = true;
});

await check('openid-client', 'introspect_revoked', async () => {
  assert(ocRevokeOk, 'no token was revoked (see the revoke check)');
  const r = await client.tokenIntrospection(ocIntro ?? (await discover(intro.id, intro.secret)), ocToken);
  assert(r.active === false, `active ${r.active}`);
  return { keys: Object.keys(r).sort() };
});

// ---- jose --------------------------------------------------------------------

await check('jose', 'verify_token', async () => {
  accessToken ??= (await o4wToken(owner, oauth.ClientSecretBasic(owner.secret))).access_token;
  const jwks = createRemoteJWKSet(new URL(as.jwks_uri), { timeoutDuration: TIMEOUT_MS });
  const { payload, protectedHeader } = await jwtVerify(accessToken, jwks, {
    issuer,
    audience: opts.audience,
    typ: 'at+jwt',
  });
  return { alg: protectedHeader.alg, sub: payload.sub };
});

// ---- private_key_jwt (RFC 7523) ------------------------------------------------
// Each library's own PrivateKeyJwt with a CryptoKey imported from PKCS#8
// (jose's importPKCS8); the assertion's aud is the issuer identifier (both
// libraries), EdDSA signed under RFC 9864's name Ed25519.

if (opts['jwt-client']) {
  const jwtClient = opts['jwt-client'];
  const keys = [
    ['es256', 'ES256', 'es'],
    ['eddsa', 'EdDSA', 'ed'],
    ['ps256', 'PS256', 'ps'],
  ];
  const pemOf = (name) => readFileSync(`${opts['jwt-keys']}/${name === 'eddsa' ? 'ed25519' : name}.pem`, 'utf8');
  for (const [name, alg, kid] of keys) {
    await check('oauth4webapi', `token_private_key_jwt_${name}`, async () => {
      const key = await importPKCS8(pemOf(name), alg);
      const auth = oauth.PrivateKeyJwt({ key, kid });
      const t = await o4wToken({ id: jwtClient }, auth);
      assert(t.token_type === 'bearer', `token_type ${t.token_type}`);
      assert(decodeJwt(t.access_token).client_id === jwtClient, 'client_id');
      return { alg, scope: t.scope };
    });
    await check('openid-client', `token_private_key_jwt_${name}`, async () => {
      const key = await importPKCS8(pemOf(name), alg);
      const config = await discover(jwtClient, undefined, client.PrivateKeyJwt({ key, kid }));
      const t = await client.clientCredentialsGrant(config);
      assert(t.token_type === 'bearer', `token_type ${t.token_type}`);
      assert(decodeJwt(t.access_token).client_id === jwtClient, 'client_id');
      return { alg, scope: t.scope };
    });
  }
  if (opts['uri-client']) {
    // The client registered with a jwks_uri (the issuer fetches its set).
    for (const [lib, get] of [
      ['oauth4webapi', (key) => o4wToken({ id: opts['uri-client'] }, oauth.PrivateKeyJwt(key))],
      [
        'openid-client',
        async (key) =>
          client.clientCredentialsGrant(await discover(opts['uri-client'], undefined, client.PrivateKeyJwt(key))),
      ],
    ]) {
      await check(lib, 'token_private_key_jwt_jwks_uri', async () => {
        const key = await importPKCS8(readFileSync(`${opts['jwt-keys']}/uri-1.pem`, 'utf8'), 'ES256');
        const t = await get({ key, kid: 'uri-1' });
        assert(decodeJwt(t.access_token).client_id === opts['uri-client'], 'client_id');
        return { scope: t.scope };
      });
    }
  }
  await check('oauth4webapi', 'token_private_key_jwt_wrong_key', async () => {
    // Another client's private key under this client's kid: invalid_client.
    const key = await importPKCS8(readFileSync(`${opts['jwt-keys']}/uri-1.pem`, 'utf8'), 'ES256');
    return expectOAuthError('invalid_client', () => o4wToken({ id: jwtClient }, oauth.PrivateKeyJwt({ key, kid: 'es' })));
  });
}
