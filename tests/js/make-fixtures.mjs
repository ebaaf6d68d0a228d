// Signs the JS suite's fixtures with jose (an independent implementation):
// one key and token set per algorithm, plus claim, revocation and key-set
// edge cases. Every runtime then runs the same suite on the same fixtures.
// Usage: node tests/js/make-fixtures.mjs OUT.json
import { readFileSync, writeFileSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, importJWK, calculateJwkThumbprint } from "jose";
import { createHash } from "node:crypto";
// ML-DSA (RFC 9964): signed by noble (pure JS), since jose signs it only
// where the host's WebCrypto has ML-DSA.
import { ml_dsa44, ml_dsa65, ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";

const out = process.argv[2] ?? "target/js-test/fixtures.json";
const NOW = 1_800_000_000;
const ISS = "https://issuer.test";
const AUD = "https://api.test";
const ASYMMETRIC = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"];
const HMAC = ["HS256", "HS384", "HS512"];
const ML_DSA = { "ML-DSA-44": ml_dsa44, "ML-DSA-65": ml_dsa65, "ML-DSA-87": ml_dsa87 };
const b64u = (bytes) => Buffer.from(bytes).toString("base64url");

const secret = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);
const keys = [];
const signers = {};
for (const alg of ASYMMETRIC) {
  const { publicKey, privateKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519", extractable: true } : { extractable: true });
  const kid = `kid-${alg.toLowerCase()}`;
  keys.push({ ...(await exportJWK(publicKey)), kid, alg, use: "sig" });
  signers[alg] = { key: privateKey, kid };
}
for (const alg of HMAC) signers[alg] = { key: secret, kid: undefined };
for (const [alg, impl] of Object.entries(ML_DSA)) {
  const { publicKey, secretKey } = impl.keygen(new Uint8Array(32).fill(Number(alg.slice(-2))));
  const kid = `kid-${alg.toLowerCase()}`;
  keys.push({ kty: "AKP", alg, pub: b64u(publicKey), kid, use: "sig" });
  signers[alg] = { kid, mlDsa: (input) => impl.sign(input, secretKey) };
}

const base = { iss: ISS, aud: AUD, sub: "client-1", scope: "read write" };
async function sign(alg, claims = {}, header = {}) {
  const { key, kid, mlDsa } = signers[alg];
  if (mlDsa) {
    const h = { alg, kid, typ: "at+jwt", ...header };
    const p = { ...base, jti: `jti-${Math.random().toString(36).slice(2)}`, iat: NOW, nbf: NOW, exp: NOW + 3600, ...claims };
    const input = `${b64u(Buffer.from(JSON.stringify(h)))}.${b64u(Buffer.from(JSON.stringify(p)))}`;
    return `${input}.${b64u(mlDsa(new TextEncoder().encode(input)))}`;
  }
  const jwt = new SignJWT({ ...base, jti: `jti-${Math.random().toString(36).slice(2)}`, ...claims })
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}), typ: "at+jwt", ...header })
    .setIssuedAt(NOW)
    .setNotBefore(NOW);
  if (!("exp" in claims)) jwt.setExpirationTime(NOW + 3600);
  return jwt.sign(key);
}
const tamper = (t) => {
  const [h, p, s] = t.split(".");
  const i = Math.floor(s.length / 2);
  return `${h}.${p}.${s.slice(0, i)}${s[i] === "A" ? "B" : "A"}${s.slice(i + 1)}`;
};

const cases = [];
for (const alg of [...ASYMMETRIC, ...HMAC, ...Object.keys(ML_DSA)]) {
  const valid = await sign(alg, { jti: `valid-${alg}` });
  cases.push({ name: `valid ${alg}`, alg, token: valid, expect: { ok: true, jti: `valid-${alg}` } });
  cases.push({ name: `tampered ${alg}`, alg, token: tamper(valid), expect: { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" } });
}
cases.push({ name: "expired", alg: "ES256", token: await sign("ES256", { exp: NOW - 60 }), expect: { code: "ERR_JWT_EXPIRED", claim: "exp" } });
cases.push({ name: "wrong audience", alg: "ES256", token: await sign("ES256", { aud: "https://other.test" }), expect: { code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "aud", reason: "check_failed" } });
cases.push({ name: "wrong issuer", alg: "EdDSA", token: await sign("EdDSA", { iss: "https://evil.test" }), expect: { code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "iss", reason: "check_failed" } });
cases.push({ name: "missing scope", alg: "ES256", token: await sign("ES256", { scope: "read" }), expect: { code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "scope" } });
cases.push({ name: "revoked jti", alg: "ES256", token: await sign("ES256", { jti: "revoked-1" }), expect: { code: "ERR_JWT_REVOKED", revocationReason: "jti" } });
cases.push({ name: "revoked subject", alg: "RS256", token: await sign("RS256", { sub: "fired-user" }), expect: { code: "ERR_JWT_REVOKED", revocationReason: "sub" } });
cases.push({ name: "unknown kid", alg: "ES256", token: await sign("ES256", {}, { kid: "kid-rotated-in-later" }), expect: { code: "ERR_JWKS_NO_MATCHING_KEY", retryable: true } });
cases.push({ name: "alg none", alg: "ES256", token: `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ ...base, exp: NOW + 60 })).toString("base64url")}.`, expect: { code: "ERR_JWS_INVALID" } });
cases.push({ name: "wrong typ", alg: "ES256", token: await sign("ES256", {}, { typ: "JWT" }), expect: { code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "typ" } });

const revocations = {
  iss: ISS, epoch: 3, generated_at: NOW,
  revoked: {
    jti: [{ jti: "revoked-1", exp: NOW + 3600 }],
    sub: [{ sub: "fired-user", before: NOW + 1 }],
    kid: [],
  },
};

// A key set where one RSA key has public exponent 65539: valid for jwt-edge
// (odd, 32-bit), refused by some hosts' WebCrypto (Chromium accepts only 3
// and 65537). Tokens signed by the other key must not be affected.
const odd = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 65539 });
const oddJwk = { ...odd.publicKey.export({ format: "jwk" }), kid: "kid-odd-exponent", alg: "RS256", use: "sig" };
const oddSigner = await importJWK({ ...odd.privateKey.export({ format: "jwk" }), alg: "RS256" }, "RS256");
const oddToken = await new SignJWT({ ...base, jti: "odd-1" }).setProtectedHeader({ alg: "RS256", kid: "kid-odd-exponent", typ: "at+jwt" })
  .setIssuedAt(NOW).setNotBefore(NOW).setExpirationTime(NOW + 3600).sign(oddSigner);

// A second issuer with keys of its own (ES256 and RS256: host crypto in every
// build) for the multi-issuer tests: the token's iss selects the issuer, and
// one issuer's keys never verify another issuer's token.
const ISS_B = "https://second-issuer.test";
const keysB = [];
const signersB = {};
for (const alg of ["ES256", "RS256"]) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `b-${alg.toLowerCase()}`;
  keysB.push({ ...(await exportJWK(publicKey)), kid, alg, use: "sig" });
  signersB[alg] = { key: privateKey, kid };
}
async function signB(alg, claims = {}, header = {}) {
  const { key, kid } = signersB[alg];
  return new SignJWT({ ...base, iss: ISS_B, jti: `b-${alg}`, ...claims })
    .setProtectedHeader({ alg, kid, typ: "at+jwt", ...header })
    .setIssuedAt(NOW).setNotBefore(NOW).setExpirationTime(NOW + 3600).sign(key);
}
const { iss: _omit, ...noIss } = base;
const multi = {
  issB: ISS_B,
  jwksB: { keys: keysB },
  cases: [
    { name: "issuer A, ES256", alg: "ES256", token: await sign("ES256", { jti: "a-ES256" }), expect: { ok: true, jti: "a-ES256" } },
    { name: "issuer B, ES256", alg: "ES256", token: await signB("ES256"), expect: { ok: true, jti: "b-ES256" } },
    { name: "issuer B, RS256", alg: "RS256", token: await signB("RS256"), expect: { ok: true, jti: "b-RS256" } },
    // B's key under B's kid, claiming A: A has no such kid.
    { name: "iss A signed by B's key (B's kid)", alg: "ES256", token: await signB("ES256", { iss: ISS, jti: "confused-1" }), expect: { code: "ERR_JWKS_NO_MATCHING_KEY" } },
    // B's key under A's kid, claiming A: A's key refuses the signature.
    { name: "iss A signed by B's key (A's kid)", alg: "ES256", token: await signB("ES256", { iss: ISS, jti: "confused-2" }, { kid: "kid-es256" }), expect: { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" } },
    // A's key under A's kid, claiming B: refused before any key of B is tried.
    { name: "iss B signed by A's key", alg: "ES256", token: await sign("ES256", { iss: ISS_B, jti: "confused-3" }), expect: { code: "ERR_JWKS_NO_MATCHING_KEY" } },
    { name: "unknown issuer (unknown kid too)", alg: "ES256", token: await sign("ES256", { iss: "https://evil.test" }, { kid: "nobody" }), expect: { code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "iss", reason: "check_failed" } },
    { name: "no iss", alg: "ES256", token: await new SignJWT({ ...noIss, jti: "no-iss" }).setProtectedHeader({ alg: "ES256", kid: "kid-es256", typ: "at+jwt" }).setIssuedAt(NOW).setExpirationTime(NOW + 3600).sign(signers.ES256.key), expect: { code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "iss", reason: "missing" } },
    { name: "issuer B, ES256, jti b-aud", alg: "ES256", token: await signB("ES256", { jti: "b-aud" }), expect: { ok: true, jti: "b-aud" } },
  ],
};

// DPoP (RFC 9449): tokens bound to client keys (cnf.jkt by jose's
// calculateJwkThumbprint) and proofs signed by jose, each rule negated.
// The request: GET https://api.test/resource?page=2 at fx.now.
const RS_URL = "https://api.test/resource?page=2";
const RS_HTU = "https://api.test/resource";
const ath = (t) => createHash("sha256").update(t).digest("base64url");
const clients = {};
for (const alg of ["ES256", "EdDSA", "PS256"]) {
  const { publicKey, privateKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519", extractable: true } : { extractable: true });
  const jwk = await exportJWK(publicKey);
  clients[alg] = { jwk, key: privateKey, jkt: await calculateJwkThumbprint(jwk) };
}
const other = await generateKeyPair("ES256", { extractable: true });
let proofN = 0;
async function proof(alg, token, claims = {}, header = {}, by) {
  const c = clients[alg];
  const jwt = new SignJWT({ jti: `proof-${++proofN}`, htm: "GET", htu: RS_HTU, ath: ath(token), ...claims })
    .setProtectedHeader({ typ: "dpop+jwt", alg, jwk: c.jwk, ...header });
  if (!("iat" in claims)) jwt.setIssuedAt(NOW + 10);
  return jwt.sign(by ?? c.key);
}
const bound = {};
for (const alg of Object.keys(clients)) bound[alg] = await sign("ES256", { jti: `bound-${alg}`, cnf: { jkt: clients[alg].jkt } });
const unbound = await sign("ES256", { jti: "unbound-1" });
const t = bound.ES256;
const invalid = { code: "ERR_DPOP_INVALID", status: 401, www: 'DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519", error="invalid_dpop_proof"' };
const mismatch = { code: "ERR_DPOP_BINDING_MISMATCH", status: 401, www: 'DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519", error="invalid_token"' };
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const { d: _d, ...noD } = { ...(await exportJWK(other.privateKey)) };
const dpop = {
  url: RS_URL,
  alg: Object.keys(clients),
  cases: [
    ...(await Promise.all(Object.keys(clients).map(async (alg) => ({ name: `valid ${alg} proof`, alg, authorization: `DPoP ${bound[alg]}`, dpop: [await proof(alg, bound[alg])], expect: { ok: true, jti: `bound-${alg}` } })))),
    { name: "scheme in lower case, htu with default port", alg: "ES256", authorization: `dpop ${t}`, dpop: [await proof("ES256", t, { htu: "https://API.test:443/resource" })], expect: { ok: true, jti: "bound-ES256" } },
    { name: "typ missing", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, {}, { typ: undefined })], expect: invalid },
    { name: "typ JWT", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, {}, { typ: "JWT" })], expect: invalid },
    { name: "alg none", alg: "ES256", authorization: `DPoP ${t}`, dpop: [`${b64({ typ: "dpop+jwt", alg: "none", jwk: clients.ES256.jwk })}.${b64({ jti: "n", htm: "GET", htu: RS_HTU, iat: NOW + 10, ath: ath(t) })}.`], expect: invalid },
    { name: "alg HS256", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await new SignJWT({ jti: "h", htm: "GET", htu: RS_HTU, ath: ath(t) }).setProtectedHeader({ typ: "dpop+jwt", alg: "HS256", jwk: clients.ES256.jwk }).setIssuedAt(NOW + 10).sign(secret)], expect: invalid },
    { name: "a private jwk", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, {}, { jwk: { ...(await exportJWK(clients.ES256.key)) } })], expect: invalid },
    { name: "signed by another key than its jwk", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, {}, {}, other.privateKey)], expect: invalid },
    { name: "wrong htm", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { htm: "POST" })], expect: invalid },
    { name: "htu of another host", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { htu: "https://evil.test/resource" })], expect: invalid },
    { name: "htu with another scheme", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { htu: "http://api.test/resource" })], expect: invalid },
    { name: "htu with another port", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { htu: "https://api.test:8443/resource" })], expect: invalid },
    { name: "htu with another path", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { htu: "https://api.test/other" })], expect: invalid },
    { name: "iat too old", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { iat: NOW - 600 })], expect: invalid },
    { name: "iat in the future", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { iat: NOW + 600 })], expect: invalid },
    { name: "ath missing", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { ath: undefined })], expect: invalid },
    { name: "ath for another token", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { ath: ath(unbound) })], expect: invalid },
    { name: "oversized proof", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t, { pad: "a".repeat(9000) })], expect: invalid },
    { name: "two DPoP headers", alg: "ES256", authorization: `DPoP ${t}`, dpop: [await proof("ES256", t), await proof("ES256", t)], expect: invalid },
    { name: "no DPoP header", alg: "ES256", authorization: `DPoP ${t}`, dpop: [], expect: invalid },
    { name: "cnf.jkt of another key", alg: "ES256", authorization: `DPoP ${bound.EdDSA}`, dpop: [await proof("ES256", bound.EdDSA)], expect: mismatch },
    { name: "a bound token as Bearer", alg: "ES256", authorization: `Bearer ${t}`, dpop: [], expect: mismatch },
    { name: "a DPoP token without cnf", alg: "ES256", authorization: `DPoP ${unbound}`, dpop: [await proof("ES256", unbound)], expect: mismatch },
    { name: "an unbound token as Bearer", alg: "ES256", authorization: `Bearer ${unbound}`, dpop: [], expect: { ok: true, jti: "unbound-1" } },
    { name: "two Authorization headers", alg: "ES256", authorization: [`Bearer ${unbound}`, `Bearer ${unbound}`], dpop: [], expect: { code: "ERR_AUTHORIZATION_INVALID", status: 400, www: 'DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519", error="invalid_request"' } },
    { name: "no Authorization header", alg: "ES256", authorization: [], dpop: [], expect: { code: "ERR_AUTHORIZATION_MISSING", status: 401, www: 'DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519", Bearer' } },
    { name: "Basic scheme", alg: "ES256", authorization: "Basic dXNlcjpwdw==", dpop: [], expect: { code: "ERR_AUTHORIZATION_INVALID", status: 400 } },
  ],
  replayed: { authorization: `DPoP ${t}`, dpop: [await proof("ES256", t)] },
  // The ES256 client key, for proofs signed in the runtime (with a nonce).
  client: { privateJwk: await exportJWK(clients.ES256.key), jwk: clients.ES256.jwk, token: t, ath: ath(t), htu: RS_HTU },
  reused: { authorization: `DPoP ${t}`, proof: await proof("ES256", t) },
};

// RFC 9964's appendix examples (tests/vectors/rfc9964: the public part of
// each JWK, and its compact JWS; the payload is text, not a claims set).
const rfc9964 = ["44", "65", "87"].map((n) => {
  const doc = JSON.parse(readFileSync(new URL(`../vectors/rfc9964/ML_DSA_${n}.jose.json`, import.meta.url), "utf8"));
  const { kty, alg, pub, kid } = doc.jwk;
  return { alg, jwk: { kty, alg, pub, kid }, jws: doc.jws };
});

writeFileSync(out, JSON.stringify({
  rfc9964,
  dpop,
  multi,
  now: NOW + 10, iss: ISS, aud: AUD,
  jwks: { keys }, secret: Array.from(secret), revocations, cases,
  oddKey: { jwks: { keys: [keys[0], oddJwk] }, token: oddToken, normalToken: cases[0].token },
}));
console.log(`wrote ${cases.length} cases to ${out}`);
