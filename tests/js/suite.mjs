// The one JS test suite of the npm package, written once and run by thin
// runners in Node, Deno, Bun, workerd and Chromium. It receives the package's
// module (as imported through that runtime's export condition), the variant
// name ("default" or "full") and the fixtures signed by jose.
//
// runSuite(api, variant, fx) -> [{ name, ok, error? }]

const DEFAULT_RUST = ["HS256", "HS384", "HS512", "ES256", "EdDSA"];
const ALL = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87"];

/** Whether this runtime's host crypto (the one the package's entry uses)
 *  verifies `alg` with `jwk`: node:crypto for the Node entry, WebCrypto
 *  elsewhere. ML-DSA is in Node >= 24.6 and Deno >= 2.8, not in Node 20,
 *  Bun, workerd or Chromium (yet). */
async function hostImports(entry, alg, jwk) {
  try {
    if (entry === "node") {
      const { createPublicKey } = await import("node:crypto");
      createPublicKey({ key: jwk, format: "jwk" });
    } else {
      await crypto.subtle.importKey("jwk", jwk, { name: alg }, false, ["verify"]);
    }
    return true;
  } catch {
    return false;
  }
}

class AssertionError extends Error {}
function assert(cond, message) {
  if (!cond) throw new AssertionError(message);
}
function eq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  assert(a === e, `${what}: expected ${e}, got ${a}`);
}

/** Runs fn and returns { value } or { error }. */
async function attempt(fn) {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error };
  }
}

function outcome(r) {
  if (r.error === undefined) return { ok: true, claims: r.value.claims, header: r.value.header };
  const e = r.error;
  return { code: e.code, claim: e.claim, reason: e.reason, revocationReason: e.revocationReason, retryable: e.retryable };
}

function checkExpectation(api, r, expect, what) {
  if (expect.ok) {
    assert(r.error === undefined, `${what}: expected success, got ${r.error?.code}: ${r.error?.message}`);
    eq(r.value.claims.jti, expect.jti, `${what} jti`);
    eq(Object.keys(r.value).sort(), ["claims", "header"], `${what} result keys`);
    return;
  }
  assert(r.error !== undefined, `${what}: expected ${expect.code}, but it verified`);
  assert(r.error instanceof api.JwtEdgeError, `${what}: error is not a JwtEdgeError: ${r.error}`);
  assert(r.error instanceof Error, `${what}: JwtEdgeError is not an Error`);
  eq(r.error.name, "JwtEdgeError", `${what} name`);
  for (const k of ["code", "claim", "reason", "revocationReason", "retryable"]) {
    if (expect[k] !== undefined) eq(r.error[k], expect[k], `${what} ${k}`);
  }
  assert(typeof r.error.message === "string" && r.error.message.length > 0, `${what}: empty message`);
}

export async function runSuite(api, variant, fx, expectedEntry) {
  const results = [];
  const test = async (name, fn) => {
    try {
      await fn();
      results.push({ name: `[${variant}] ${name}`, ok: true });
    } catch (e) {
      results.push({ name: `[${variant}] ${name}`, ok: false, error: String(e?.stack ?? e) });
    }
  };
  const rust = api.rustAlgorithms();
  const options = {
    jwks: fx.jwks,
    secret: new Uint8Array(fx.secret),
    algorithms: ALL,
    issuer: fx.iss,
    audience: [fx.aud, "https://another.test"],
    typ: "at+jwt",
    scopes: ["write"],
    revocations: fx.revocations,
  };
  const v = new api.Validator(options);
  // Expectations about which path does the math need a validator without the
  // verified-token cache (a cached result is served by both paths).
  const fresh = () => new api.Validator({ ...options, cache: 0 });
  const noCache = fresh();
  const at = { now: fx.now };

  await test(`loaded through the "${expectedEntry}" export condition`, () => {
    eq(api.entry, expectedEntry, "entry");
  });

  await test("the build carries the documented pure-Rust algorithms", () => {
    eq(rust, variant === "full" ? ALL : DEFAULT_RUST, "rustAlgorithms()");
  });

  // ML-DSA: pure Rust in the full build; in the default build only where
  // the host's crypto has it, else ERR_JOSE_NOT_SUPPORTED (never a wrong answer).
  const hostMl = {};
  for (const jwk of fx.jwks.keys.filter((k) => k.kty === "AKP")) {
    hostMl[jwk.alg] = await hostImports(api.entry, jwk.alg, { kty: "AKP", alg: jwk.alg, pub: jwk.pub });
  }
  // `token` through both paths to an ML-DSA signature check in this runtime
  // and build, `verify` (the host's ML-DSA, else Rust) and `verifySync`
  // (Rust): `check(what, result, run)` where the path has ML-DSA, else the
  // answer must be ERR_JOSE_NOT_SUPPORTED.
  const onEachMlDsaPath = async (val, alg, when, token, check) => {
    for (const [how, run, can] of [
      ["verify", (t) => val.verify(t, when), rust.includes(alg) || hostMl[alg]],
      ["verifySync", (t) => val.verifySync(t, when), rust.includes(alg)],
    ]) {
      const r = await attempt(() => run(token));
      if (can) await check(`${alg} ${how}`, r, run);
      else eq(r.error?.code, "ERR_JOSE_NOT_SUPPORTED", `${alg} ${how} (no ${alg} here)`);
    }
  };
  for (const c of fx.cases) {
    await test(`verify: ${c.name}`, async () => {
      const r = await attempt(() => v.verify(c.token, at));
      const signatureStep = c.expect.ok || c.expect.code !== "ERR_JWS_INVALID";
      if (signatureStep && c.alg in hostMl && !rust.includes(c.alg) && !hostMl[c.alg]) {
        eq(r.error?.code, "ERR_JOSE_NOT_SUPPORTED", `${c.name} (no ${c.alg} in this host or build)`);
      } else {
        checkExpectation(api, r, c.expect, c.name);
      }
    });
    await test(`verifySync: ${c.name}`, async () => {
      const r = await attempt(() => noCache.verifySync(c.token, at));
      const signatureStep = c.expect.ok || c.expect.code !== "ERR_JWS_INVALID";
      if (signatureStep && !rust.includes(c.alg)) {
        // The default build relies on host crypto for this algorithm.
        eq(r.error?.code, "ERR_JOSE_NOT_SUPPORTED", `${c.name} (no pure-Rust ${c.alg})`);
      } else {
        checkExpectation(api, r, c.expect, c.name);
      }
    });
    await test(`verify and verifySync agree: ${c.name}`, async () => {
      if (!rust.includes(c.alg)) return;
      const a = outcome(await attempt(() => fresh().verify(c.token, at)));
      const b = outcome(await attempt(() => noCache.verifySync(c.token, at)));
      eq(a, b, `${c.name}: verify vs verifySync`);
    });
  }

  await test("crypto: 'wasm' and 'host' give the same answers as 'auto'", async () => {
    const w = new api.Validator({ ...options, crypto: "wasm", cache: 0 });
    const h = new api.Validator({ ...options, crypto: "host", cache: 0 });
    for (const c of fx.cases) {
      const auto = outcome(await attempt(() => v.verify(c.token, at)));
      if (rust.includes(c.alg)) eq(outcome(await attempt(() => w.verify(c.token, at))), auto, `${c.name} wasm`);
      const host = outcome(await attempt(() => h.verify(c.token, at)));
      if (host.code !== "ERR_JOSE_NOT_SUPPORTED") eq(host, auto, `${c.name} host`);
    }
  });

  await test("the verified-token cache serves repeats, re-checks time, and serves verifySync", async () => {
    const c = new api.Validator({ ...options });
    const rsa = fx.cases.find((x) => x.name === "valid RS256").token;
    const first = await c.verify(rsa, at);
    const again = await c.verify(rsa, { now: fx.now + 5 });
    eq(again.claims.jti, first.claims.jti, "repeat");
    eq(c.cacheStats.hits >= 1, true, "a hit was counted");
    // The sync path is served from the cache for what it could verify itself
    // (otherwise: the next test).
    if (rust.includes("RS256")) eq(c.verifySync(rsa, at).claims.jti, first.claims.jti, "sync after async");
    // Results are frozen: one caller cannot change another's claims.
    assert(Object.isFrozen(again.claims), "frozen claims");
    // A hit re-checks expiry against now, to the second (repeats are answered
    // from the JS map inside the window Rust computed, by Rust outside it).
    const exp = first.claims.exp;
    eq((await c.verify(rsa, { now: exp - 1 })).claims.jti, first.claims.jti, "last second before exp");
    const es = fx.cases.find((x) => x.name === "valid ES256").token;
    const esFirst = await c.verify(es, at);
    eq(c.verifySync(es, { now: esFirst.claims.exp - 0.5 }).claims.jti, esFirst.claims.jti, "fractional now before exp (sync)");
    eq((await attempt(() => c.verifySync(es, { now: esFirst.claims.exp }))).error?.code, "ERR_JWT_EXPIRED", "at exp (sync)");
    eq((await attempt(() => c.verify(rsa, { now: exp }))).error?.code, "ERR_JWT_EXPIRED", "at exp");
    eq((await attempt(() => c.verify(rsa, { now: -1 }))).error?.code, "ERR_INVALID_OPTIONS", "negative now");
    eq((await c.verify(rsa, at)).claims.jti, first.claims.jti, "verified again after expiry answers");
    eq((await attempt(() => c.verify(rsa, { now: fx.now + 7200 }))).error?.code, "ERR_JWT_EXPIRED", "expired hit");
    // A revocation list change invalidates entries.
    c.setRevocations({ ...fx.revocations, epoch: 50, revoked: { ...fx.revocations.revoked, jti: [{ jti: first.claims.jti, exp: fx.now + 3600 }] } });
    eq((await attempt(() => c.verify(rsa, at))).error?.code, "ERR_JWT_REVOKED", "revoked after caching");
  });

  await test("verifySync answers the same before and after a verify of the same token", async () => {
    // A token that host crypto verified for an algorithm this build has no
    // pure-Rust backend for is in the cache, but verifySync does not serve
    // it: its answer (ERR_JOSE_NOT_SUPPORTED, or the result) does not depend
    // on history, neither at `now` nor at `exp` (the cache's re-check).
    for (const c of fx.cases.filter((x) => x.expect.ok || x.name === "revoked subject")) {
      const w = new api.Validator({ ...options });
      const sync = async (now) => {
        const r = await attempt(() => w.verifySync(c.token, { now }));
        return r.error ? { code: r.error.code, message: r.error.message, isError: r.error instanceof api.JwtEdgeError } : { jti: r.value.claims.jti };
      };
      const exp = api.inspect(c.token).claims.exp;
      const before = [await sync(fx.now), await sync(exp)];
      await attempt(() => w.verify(c.token, at));
      const after = [await sync(fx.now), await sync(exp)];
      eq(after, before, `${c.name}: verifySync after verify`);
      if (!rust.includes(c.alg)) eq(before[0].code, "ERR_JOSE_NOT_SUPPORTED", `${c.name}: no pure-Rust ${c.alg}`);
      else if (c.expect.ok) eq(before[0].jti, c.expect.jti, `${c.name}: verified in Rust`);
    }
  });

  await test("a key the host cannot import does not break the other keys", async () => {
    const odd = new api.Validator({ jwks: fx.oddKey.jwks, issuer: fx.iss, audience: fx.aud });
    const normal = await odd.verify(fx.oddKey.normalToken, at);
    eq(normal.claims.iss, fx.iss, "token of the ordinary key");
    const r = await attempt(() => odd.verify(fx.oddKey.token, at));
    if (r.error) {
      // Only acceptable when the host refuses the key and this build has no pure-Rust RS256.
      eq(r.error.code, "ERR_JOSE_NOT_SUPPORTED", "odd-exponent key");
      assert(!rust.includes("RS256"), "the full build must fall back to pure Rust");
    } else {
      eq(r.value.claims.jti, "odd-1", "odd-exponent token");
    }
    // And the ordinary key still works afterwards.
    eq((await odd.verify(fx.oddKey.normalToken, at)).claims.iss, fx.iss, "after the odd key");
  });

  await test("RFC 9964's examples: each signature verifies, the payload (text) stops at the claims, a changed byte fails", async () => {
    for (const ex of fx.rfc9964) {
      const val = new api.Validator({ jwks: { keys: [ex.jwk] }, algorithms: [ex.alg], cache: 0 });
      const [h, p, s] = ex.jws.split(".");
      const i = 100;
      const changed = `${h}.${p}.${s.slice(0, i)}${s[i] === "A" ? "B" : "A"}${s.slice(i + 1)}`;
      await onEachMlDsaPath(val, ex.alg, at, ex.jws, async (what, good, run) => {
        eq(good.error?.code, "ERR_JWT_INVALID", `${what}: the example's signature verified`);
        const bad = await attempt(() => run(changed));
        eq(bad.error?.code, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", `${what}: changed signature`);
      });
    }
  });

  await test("tokens issued by jwt-edge serve with ML-DSA-44/65/87 keys verify (verify: host or Rust; verifySync: Rust)", async () => {
    eq(fx.serveMlDsa?.length, 3, "serve's tokens in the fixtures (tests/js/ml-dsa-interop.mjs adds them)");
    for (const s of fx.serveMlDsa) {
      const val = new api.Validator({ jwks: s.jwks, issuer: s.iss, audience: s.aud, cache: 0 });
      await onEachMlDsaPath(val, s.alg, { now: s.now }, s.token, async (what, r, run) => {
        assert(!r.error, `${what}: ${r.error?.code} ${r.error?.message}`);
        eq([r.value.header.alg, r.value.claims.client_id], [s.alg, s.clientId], what);
        const tampered = await attempt(() => run(`${s.token.slice(0, -8)}AAAAAAAA`));
        eq(tampered.error?.code, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", `${what}: tampered`);
      });
    }
  });

  await test("setJwks replaces keys; unknown kid becomes known", async () => {
    const only = new api.Validator({ jwks: { keys: fx.jwks.keys.filter((k) => k.alg !== "EdDSA") }, issuer: fx.iss });
    const token = fx.cases.find((c) => c.name === "valid EdDSA").token;
    const before = await attempt(() => only.verify(token, at));
    eq(before.error?.code, "ERR_JWKS_NO_MATCHING_KEY", "before setJwks");
    eq(before.error?.retryable, true, "retryable");
    only.setJwks(fx.jwks);
    eq((await only.verify(token, at)).claims.jti, "valid EdDSA".replace("valid ", "valid-"), "after setJwks");
  });

  await test("setRevocations refuses a lower epoch and applies a newer list", async () => {
    const r = new api.Validator({ jwks: fx.jwks, issuer: fx.iss });
    const token = fx.cases.find((c) => c.name === "valid ES256").token;
    await r.verify(token, at);
    const jti = (await r.verify(token, at)).claims.jti;
    r.setRevocations({ ...fx.revocations, epoch: 10, revoked: { ...fx.revocations.revoked, jti: [{ jti, exp: fx.now + 100 }] } });
    eq((await attempt(() => r.verify(token, at))).error?.code, "ERR_JWT_REVOKED", "after revocation");
    const lower = attempt(() => r.setRevocations({ ...fx.revocations, epoch: 9, revoked: { ...fx.revocations.revoked, jti: [] } }));
    eq((await lower).error?.code, "ERR_REVOCATION_LIST_INVALID", "lower epoch");
    eq((await attempt(() => r.verify(token, at))).error?.code, "ERR_JWT_REVOKED", "still revoked");
  });

  await test("bad options are ERR_INVALID_OPTIONS naming the option", async () => {
    const cases = [
      [{ jwks: fx.jwks, leeway: "60" }, "leeway"],
      [{ jwks: fx.jwks, audiense: "x" }, "audiense"],
      [{ jwks: fx.jwks, algorithms: ["none"] }, "algorithms"],
      [{ jwks: fx.jwks, crypto: "gpu" }, "crypto"],
      [{ jwks: fx.jwks, secret: 42 }, "secret"],
      [{ issuer: fx.iss }, "jwks"],
    ];
    for (const [opts, name] of cases) {
      const r = await attempt(() => new api.Validator(opts));
      assert(r.error instanceof api.JwtEdgeError, `${name}: not a JwtEdgeError: ${r.error}`);
      eq(r.error.code, "ERR_INVALID_OPTIONS", `${name} code`);
      assert(r.error.message.includes(name), `${name}: message does not name it: ${r.error.message}`);
    }
    const bad = await attempt(() => new api.Validator({ jwks: "{not json" }));
    eq(bad.error?.code, "ERR_JWKS_INVALID", "invalid JWKS text");
    const short = await attempt(() => new api.Validator({ secret: "too short" }));
    eq(short.error?.code, "ERR_JWKS_INVALID", "short secret");
  });

  await test("non-string tokens are ERR_JWS_INVALID, and the instance keeps working", async () => {
    for (const t of [undefined, null, 42, {}, ["a.b.c"]]) {
      eq((await attempt(() => v.verify(t, at))).error?.code, "ERR_JWS_INVALID", `token ${JSON.stringify(t)}`);
      eq((await attempt(() => v.verifySync(t, at))).error?.code, "ERR_JWS_INVALID", `sync token ${JSON.stringify(t)}`);
    }
    const huge = "a".repeat(20000) + ".b.c";
    eq((await attempt(() => v.verify(huge, at))).error?.code, "ERR_JWS_INVALID", "oversized token");
    eq((await v.verify(fx.cases[0].token, at)).claims.jti, fx.cases[0].expect.jti, "still answering");
  });

  await test("inspect decodes without verifying and warns", async () => {
    const t = fx.cases.find((c) => c.name === "tampered HS256").token;
    const i = api.inspect(t, at);
    eq(i.header.alg, "HS256", "header");
    eq(i.claims.iss, fx.iss, "claims");
    assert(i.warnings.some((w) => w.code === "ALG_SYMMETRIC"), "ALG_SYMMETRIC warning");
    assert(i.warnings.some((w) => w.code === "NO_KID"), "NO_KID warning");
    eq((await attempt(() => api.inspect("not a token"))).error?.code, "ERR_JWS_INVALID", "garbage");
  });

  await test("skippedKeys reports unusable JWKS entries", async () => {
    const jwks = { keys: [...fx.jwks.keys, { kty: "oct", k: "AAAA", kid: "sneaky" }, { kty: "EC", crv: "P-256", x: "AA", y: "AA" }] };
    const s = new api.Validator({ jwks });
    eq(s.skippedKeys.length, 2, "skipped count");
    eq(s.skippedKeys[0].kid, "sneaky", "skipped kid");
  });

  await test("multi-issuer: iss selects the issuer; keys never cross issuers; verify and verifySync agree", async () => {
    const m = fx.multi;
    const opts = {
      issuers: [
        { issuer: fx.iss, jwks: fx.jwks, secret: new Uint8Array(fx.secret) },
        { issuer: m.issB, jwks: m.jwksB, audience: "https://b-api.test" },
      ],
      audience: fx.aud,
      cache: 0,
    };
    const multi = new api.Validator(opts);
    for (const c of m.cases) {
      // B requires its own audience here; every token carries A's.
      const expect = c.name.startsWith("issuer B") ? { code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "aud", reason: "check_failed" } : c.expect;
      checkExpectation(api, await attempt(() => multi.verify(c.token, at)), expect, `${c.name} (verify)`);
      if (rust.includes(c.alg)) {
        checkExpectation(api, await attempt(() => multi.verifySync(c.token, at)), expect, `${c.name} (verifySync)`);
      }
    }
    // B's own audience override: B's tokens carry A's audience, so they need
    // B to accept it (and A's tokens keep A's rule).
    const widened = new api.Validator({ ...opts, issuers: [opts.issuers[0], { ...opts.issuers[1], audience: fx.aud }] });
    for (const c of m.cases) {
      checkExpectation(api, await attempt(() => widened.verify(c.token, at)), c.expect, `${c.name} (B accepts A's audience)`);
    }
    // setJwks(jwks, index) replaces one issuer's keys only.
    widened.setJwks({ keys: [] }, 1);
    eq((await attempt(() => widened.verify(m.cases[1].token, at))).error?.code, "ERR_JWKS_NO_MATCHING_KEY", "B's keys removed");
    eq((await widened.verify(m.cases[0].token, at)).claims.jti, "a-ES256", "A unaffected");
  });

  await test("discovery: discover(issuer) reads RFC 8414 metadata (else OpenID's), then its jwks_uri; metadata naming another issuer is refused", async () => {
    const m = fx.multi;
    const meta = (issuer, jwksUri) => JSON.stringify({ issuer, jwks_uri: jwksUri, token_endpoint: `${issuer}/token` });
    const asked = [];
    const serve = (docs) => async (url) => {
      asked.push(String(url));
      const body = docs[String(url)];
      return body === undefined
        ? new Response("not found", { status: 404 })
        : new Response(body, { status: 200, headers: { "cache-control": "max-age=300" } });
    };
    const rfc8414 = `${fx.iss}/.well-known/oauth-authorization-server`;
    const docs = { [rfc8414]: meta(fx.iss, "https://keys.test/a.json"), "https://keys.test/a.json": JSON.stringify(fx.jwks) };
    const opts = {
      issuers: [
        { issuer: fx.iss, jwks: api.discover(fx.iss, { fetch: serve(docs) }), secret: new Uint8Array(fx.secret) },
        { issuer: m.issB, jwks: m.jwksB },
      ],
      audience: fx.aud,
      cache: 0,
    };
    const v = new api.Validator(opts);
    for (const c of m.cases) {
      checkExpectation(api, await attempt(() => v.verify(c.token, at)), c.expect, `${c.name} (discovered, verify)`);
      if (rust.includes(c.alg)) {
        checkExpectation(api, await attempt(() => v.verifySync(c.token, at)), c.expect, `${c.name} (discovered, verifySync)`);
      }
    }
    eq(asked.slice(0, 2).join(" "), `${rfc8414} https://keys.test/a.json`, "metadata first, then the jwks_uri");
    eq(asked.filter((u) => u === rfc8414).length, 1, "the metadata fetched once (fresh for max-age)");
    // No RFC 8414 document: OpenID Connect Discovery.
    asked.length = 0;
    const oidc = `${fx.iss}/.well-known/openid-configuration`;
    const o = new api.Validator({
      jwks: api.discover(fx.iss, { fetch: serve({ [oidc]: meta(fx.iss, "https://keys.test/o.json"), "https://keys.test/o.json": JSON.stringify(fx.jwks) }) }),
      issuer: fx.iss,
      audience: fx.aud,
    });
    eq((await o.verify(m.cases[0].token, at)).claims.jti, "a-ES256", "verified via OpenID metadata");
    eq(asked.join(" "), `${rfc8414} ${oidc} https://keys.test/o.json`, "RFC 8414 404, then OpenID");
    // The metadata at the issuer's address names another issuer (RFC 8414 §3.3).
    asked.length = 0;
    const bad = new api.Validator({
      jwks: api.discover(fx.iss, { fetch: serve({ [rfc8414]: meta(`${fx.iss}/`, "https://keys.test/a.json"), "https://keys.test/a.json": JSON.stringify(fx.jwks) }) }),
      issuer: fx.iss,
      audience: fx.aud,
    });
    const r = await attempt(() => bad.verify(m.cases[0].token, at));
    eq(r.error?.code, "ERR_JWKS_TIMEOUT", "mismatching issuer");
    assert(r.error.message.includes("identical"), `message: ${r.error.message}`);
    eq(r.error.source, "metadata", "error source");
    eq(asked.join(" "), rfc8414, "no JWKS fetched");
    const sync = await attempt(() => bad.verifySync(m.cases[0].token, at));
    eq(sync.error?.code, "ERR_JWKS_TIMEOUT", "verifySync: same answer");
    // discover(url) must name the configured issuer.
    const wrong = await attempt(() => new api.Validator({ issuers: [{ issuer: fx.iss, jwks: api.discover(m.issB) }] }));
    eq(wrong.error?.code, "ERR_INVALID_OPTIONS", "discover(other issuer)");
    assert(wrong.error.message.includes("issuers[0].jwks"), wrong.error.message);
  });

  // DPoP (RFC 9449) through verifyRequest: jose-signed proofs, every rule
  // negated, each refusal with its HTTP answer.
  const dp = fx.dpop;
  const dpopOptions = { jwks: fx.jwks, issuer: fx.iss, audience: fx.aud, dpop: {} };
  const request = (authorization, proofs) => {
    const headers = new Headers();
    for (const a of [].concat(authorization)) headers.append("authorization", a);
    for (const p of proofs) headers.append("DPoP", p);
    return new Request(dp.url, { headers });
  };
  const hostHas = (alg) => variant === "full" || rust.includes(alg);
  for (const c of dp.cases) {
    for (const mode of ["verifyRequest", "verify(token, {dpop})", "verifySync(token, {dpop})"]) {
      await test(`DPoP ${mode}: ${c.name}`, async () => {
        const v = new api.Validator(dpopOptions);
        let r;
        if (mode === "verifyRequest") {
          r = await attempt(() => v.verifyRequest(request(c.authorization, c.dpop), at));
        } else {
          // The token-level forms take a token presented with the DPoP scheme and one proof.
          const auth = [].concat(c.authorization);
          if (auth.length !== 1 || !/^dpop /i.test(auth[0]) || c.dpop.length !== 1) return;
          const token = auth[0].slice(5);
          const opts = { ...at, dpop: { proof: c.dpop[0], method: "GET", url: dp.url } };
          if (mode.startsWith("verifySync")) {
            if (!hostHas(c.alg)) return;
            r = await attempt(() => v.verifySync(token, opts));
          } else {
            r = await attempt(() => v.verify(token, opts));
          }
        }
        checkExpectation(api, r, c.expect, c.name);
        if (!c.expect.ok) {
          eq(r.error.status, c.expect.status, `${c.name} status`);
          if (c.expect.www) {
            assert(r.error.wwwAuthenticate?.startsWith(c.expect.www), `${c.name}: WWW-Authenticate ${r.error.wwwAuthenticate}`);
          }
        }
      });
    }
  }

  await test("DPoP: a replayed proof and a proof reused for another URL", async () => {
    const v = new api.Validator(dpopOptions);
    const req = () => request(dp.replayed.authorization, dp.replayed.dpop);
    await v.verifyRequest(req(), at);
    const r = await attempt(() => v.verifyRequest(req(), at));
    eq(r.error?.code, "ERR_DPOP_REPLAYED", "replay");
    eq(r.error.status, 401, "replay status");
    const other = new Request("https://api.test/elsewhere", { headers: { authorization: dp.reused.authorization, dpop: dp.reused.proof } });
    const r2 = await attempt(() => v.verifyRequest(other, at));
    eq(r2.error?.code, "ERR_DPOP_INVALID", "another URL");
  });

  await test("DPoP: a global replay hook and a bound token through plain verify", async () => {
    const seen = new Map();
    const replay = async (jti, expiresAt) => {
      assert(typeof expiresAt === "number" && expiresAt > fx.now, `expiresAt ${expiresAt}`);
      if (seen.has(jti)) return false;
      seen.set(jti, expiresAt);
      return true;
    };
    // Two validators (two isolates) sharing one store: the second refuses.
    const a = new api.Validator({ ...dpopOptions, dpop: { replay } });
    const b = new api.Validator({ ...dpopOptions, dpop: { replay } });
    const req = () => request(dp.replayed.authorization, dp.replayed.dpop);
    await a.verifyRequest(req(), at);
    const r = await attempt(() => b.verifyRequest(req(), at));
    eq(r.error?.code, "ERR_DPOP_REPLAYED", "replayed through the hook");
    eq(seen.size, 1, "one jti recorded");
    const token = dp.replayed.authorization.slice(5);
    const plain = await attempt(() => a.verify(token, at));
    eq(plain.error?.code, "ERR_DPOP_BINDING_MISMATCH", "plain verify of a bound token");
    const sync = await attempt(() => a.verifySync(token, at));
    eq(sync.error?.code, "ERR_DPOP_BINDING_MISMATCH", "plain verifySync of a bound token");
    const unchecked = await a.verify(token, { ...at, dpop: "unchecked" });
    eq(unchecked.claims.jti, "bound-ES256", "opt-out");
  });

  await test("DPoP: without the dpop option, Bearer answers and the DPoP scheme is refused", async () => {
    const v = new api.Validator({ jwks: fx.jwks, issuer: fx.iss, audience: fx.aud });
    const none = await attempt(() => v.verifyRequest(new Request(dp.url), at));
    eq([none.error?.code, none.error?.status, none.error?.wwwAuthenticate], ["ERR_AUTHORIZATION_MISSING", 401, "Bearer"], "no header");
    const r = await attempt(() => v.verifyRequest(request(dp.replayed.authorization, dp.replayed.dpop), at));
    eq([r.error?.code, r.error?.status], ["ERR_AUTHORIZATION_INVALID", 400], "DPoP scheme");
    const expired = fx.cases.find((c) => c.name === "expired");
    const e = await attempt(() => v.verifyRequest(request(`Bearer ${expired.token}`, []), at));
    eq([e.error?.code, e.error?.status], ["ERR_JWT_EXPIRED", 401], "expired");
    assert(e.error.wwwAuthenticate.startsWith('Bearer error="invalid_token", error_description="'), e.error.wwwAuthenticate);
    const required = new api.Validator({ ...dpopOptions, dpop: { required: true } });
    const unbound = dp.cases.find((c) => c.name === "an unbound token as Bearer");
    const q = await attempt(() => required.verifyRequest(request(unbound.authorization, []), at));
    eq([q.error?.code, q.error?.status], ["ERR_DPOP_REQUIRED", 401], "required");
    for (const [opts, name] of [[{ dpop: { maxAge: 0 } }, "maxAge"], [{ dpop: { algorithms: ["HS256"] } }, "algorithms"], [{ dpop: { nonceSecret: "short" } }, "nonceSecret"], [{ dpop: { replay: 1 } }, "replay"], [{ dpop: { nonce: 1 } }, "dpop.nonce"]]) {
      const bad = await attempt(() => new api.Validator({ ...dpopOptions, ...opts }));
      eq(bad.error?.code, "ERR_INVALID_OPTIONS", name);
      assert(bad.error.message.includes(name), `${name}: ${bad.error.message}`);
    }
  });

  await test("DPoP: resource-server nonces round-trip between isolates", async () => {
    const nonceSecret = "a nonce secret shared by every isolate, 32+ bytes";
    const a = new api.Validator({ ...dpopOptions, dpop: { nonceSecret } });
    const b = new api.Validator({ ...dpopOptions, dpop: { nonceSecret } });
    const c = dp.cases[0];
    const r = await attempt(() => a.verifyRequest(request(c.authorization, c.dpop), at));
    eq([r.error?.code, r.error?.status], ["ERR_DPOP_NONCE_REQUIRED", 401], "no nonce");
    assert(r.error.wwwAuthenticate.includes('error="use_dpop_nonce"'), r.error.wwwAuthenticate);
    assert(typeof r.error.dpopNonce === "string" && r.error.dpopNonce.length > 10, `dpopNonce ${r.error.dpopNonce}`);
    // A proof with that nonce, signed here by the runtime's WebCrypto, is
    // accepted by the other isolate.
    const cl = dp.client;
    const key = await crypto.subtle.importKey("jwk", { ...cl.privateJwk, ext: true }, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const enc = (o) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const input = `${enc({ typ: "dpop+jwt", alg: "ES256", jwk: cl.jwk })}.${enc({ jti: "nonce-proof-1", htm: "GET", htu: cl.htu, iat: fx.now, ath: cl.ath, nonce: r.error.dpopNonce })}`;
    const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(input)));
    const proofWithNonce = `${input}.${btoa(String.fromCharCode(...sig)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")}`;
    const ok = await b.verifyRequest(request(`DPoP ${cl.token}`, [proofWithNonce]), at);
    eq(ok.claims.jti, "bound-ES256", "accepted with the other isolate's nonce");
  });

  await test("multi-issuer options are checked and name the option", async () => {
    const cases = [
      [{ issuers: [{ issuer: fx.iss }] }, "issuers[0]"],
      [{ issuers: [{ issuer: fx.iss, jwks: fx.jwks }, { issuer: fx.iss, jwks: fx.jwks }] }, "twice"],
      [{ issuers: [{ issuer: fx.iss, jwks: fx.jwks, leeway: "1" }] }, "leeway"],
      [{ issuers: [{ issuer: fx.iss, jwks: fx.jwks, issuers: [] }] }, "issuers[0].issuers"],
      [{ issuers: [{ issuer: fx.iss, jwks: fx.jwks, kidlessCandidates: 9 }] }, "issuers[0].kidlessCandidates"],
      [{ issuers: [{ issuer: fx.iss, jwks: fx.jwks }], jwks: fx.jwks }, "jwks"],
      [{ issuers: [{ issuer: fx.iss, jwks: fx.jwks }], issuer: fx.iss }, "issuer"],
      [{ issuers: [{ issuer: fx.iss, jwks: fx.jwks, algorithms: ["HS256"] }] }, "algorithms"],
      [{ issuers: "x" }, "issuers"],
    ];
    for (const [opts, name] of cases) {
      const r = await attempt(() => new api.Validator(opts));
      assert(r.error instanceof api.JwtEdgeError, `${name}: not a JwtEdgeError: ${r.error}`);
      eq(r.error.code, "ERR_INVALID_OPTIONS", `${name} code`);
      assert(r.error.message.includes(name), `${name}: message does not name it: ${r.error.message}`);
    }
  });

  return results;
}

/** Formats results; returns the number of failures. */
export function report(results, print) {
  let failed = 0;
  for (const r of results) {
    if (!r.ok) {
      failed++;
      print(`not ok - ${r.name}\n${r.error}`);
    }
  }
  print(`${results.length - failed} passed, ${failed} failed`);
  return failed;
}
