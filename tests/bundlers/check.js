// What every bundler test app does with the package it bundled: verify a
// valid ES256 token (host crypto), an RS256 one (host crypto; the default
// build has no pure-Rust RSA), the ES256 one again with verifySync (pure Rust
// in the wasm), and refuse a tampered token with a JwtEdgeError.
// `api` is what the app imported from "jwt-edge" (or "jwt-edge/inline");
// `fx` = { jwks, iss, aud, now, es256, rs256, tampered } from the test runner.
export async function check(api, fx) {
  const { Validator, JwtEdgeError, entry } = api;
  const v = new Validator({ jwks: fx.jwks, issuer: fx.iss, audience: fx.aud });
  const es256 = await v.verify(fx.es256, { now: fx.now });
  const rs256 = await v.verify(fx.rs256, { now: fx.now });
  const sync = new Validator({ jwks: fx.jwks, issuer: fx.iss, audience: fx.aud, cache: 0 }).verifySync(fx.es256, { now: fx.now });
  let tampered = "verified";
  try {
    await v.verify(fx.tampered, { now: fx.now });
  } catch (e) {
    tampered = e instanceof JwtEdgeError ? e.code : `not a JwtEdgeError: ${e}`;
  }
  return { entry, es256: es256.claims.jti, rs256: rs256.claims.jti, sync: sync.claims.jti, tampered };
}
