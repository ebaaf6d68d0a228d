// Remote JWKS and revocation lists against a real HTTP server on loopback that
// rotates keys, fails, delays and answers 304 (node:test). Time is passed
// explicitly (`now`), so the freshness rules are exercised deterministically.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { CompactSign, SignJWT, exportJWK, generateKeyPair } from "jose";
import { Validator, remoteJwks, remoteRevocations } from "jwt-edge";

const T0 = 1_800_000_000;
const ISS = "https://issuer.test";

async function key(kid) {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
}
const token = (k, claims = {}) =>
  new SignJWT({ iss: ISS, sub: "u", jti: `j-${Math.random()}`, ...claims })
    .setProtectedHeader({ alg: "ES256", kid: k.kid })
    .setIssuedAt(T0)
    .setExpirationTime(T0 + 86_400 * 3)
    .sign(k.privateKey);

/** A JWKS + revocation-list origin whose behaviour the tests change. */
async function origin() {
  const o = {
    keys: [],
    list: undefined,
    maxAge: 120,
    fail: false,
    broken: false,
    delayMs: 0,
    requests: { jwks: 0, revocations: 0, notModified: 0 },
    etag() {
      return `"${o.keys.map((k) => k.kid).join(",")}"`;
    },
  };
  const server = createServer(async (req, res) => {
    const which = req.url.startsWith("/jwks") ? "jwks" : "revocations";
    o.requests[which]++;
    if (o.delayMs) await new Promise((r) => setTimeout(r, o.delayMs));
    if (o.fail) return res.writeHead(503).end("down");
    if (o.broken) return res.writeHead(200, { "cache-control": "max-age=600", etag: '"broken"' }).end("<html>maintenance</html>");
    if (which === "jwks") {
      const etag = o.etag();
      const headers = { "cache-control": `public, max-age=${o.maxAge}`, etag, "content-type": "application/json" };
      if (req.headers["if-none-match"] === etag) {
        o.requests.notModified++;
        return res.writeHead(304, headers).end();
      }
      return res.writeHead(200, headers).end(JSON.stringify({ keys: o.keys.map((k) => k.jwk) }));
    }
    res.writeHead(200, { "cache-control": "max-age=60", "content-type": "application/jwt" }).end(o.list);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  o.url = (path) => `http://127.0.0.1:${server.address().port}${path}`;
  o.close = () => new Promise((ok) => server.close(ok));
  return o;
}

test("freshness: max-age, 304 revalidation, stale-while-revalidate, kid-miss refetch with cooldown", async () => {
  const o = await origin();
  const k1 = await key("k1");
  const k2 = await key("k2");
  o.keys = [k1];
  const v = new Validator({ jwks: remoteJwks(o.url("/jwks"), { cooldown: 30 }), issuer: ISS });
  const t1 = await token(k1);
  assert.equal((await v.verify(t1, { now: T0 })).claims.iss, ISS);
  assert.equal(o.requests.jwks, 1, "first use fetches");
  await v.verify(await token(k1), { now: T0 + 100 });
  assert.equal(o.requests.jwks, 1, "fresh for max-age: no fetch");
  // Stale: served at once, one background revalidation answered 304.
  await v.verify(await token(k1), { now: T0 + 121 });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(o.requests.jwks, 2);
  assert.equal(o.requests.notModified, 1, "If-None-Match revalidation");
  // The issuer rotates in k2; a k2 token is a kid miss: one refetch, then it verifies.
  o.keys = [k1, k2];
  assert.equal((await v.verify(await token(k2), { now: T0 + 130 })).claims.iss, ISS);
  assert.equal(o.requests.jwks, 3);
  // A flood of unknown kids within the cooldown makes no further fetch.
  const rogue = await key("rogue");
  for (let i = 0; i < 20; i++) {
    const e = await v.verify(await token(rogue), { now: T0 + 131 + i }).catch((x) => x);
    assert.equal(e.code, "ERR_JWKS_NO_MATCHING_KEY");
    assert.equal(e.retryable, true);
  }
  assert.equal(o.requests.jwks, 3, "cooldown: no refetch storm");
  await o.close();
});

test("stale-if-error up to maxStale, then fail closed with a retryable ERR_JWKS_TIMEOUT", async () => {
  const o = await origin();
  const k1 = await key("k1");
  o.keys = [k1];
  const v = new Validator({ jwks: remoteJwks(o.url("/jwks"), { maxStale: 3600 }), issuer: ISS });
  const t = await token(k1);
  await v.verify(t, { now: T0 });
  o.fail = true; // the IdP goes down
  for (const dt of [200, 1000, 2000, 3600 + 119]) {
    assert.equal((await v.verify(await token(k1), { now: T0 + dt })).claims.iss, ISS, `stale served at +${dt}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const e = await v.verify(await token(k1), { now: T0 + 3600 + 120 }).catch((x) => x);
  assert.equal(e.code, "ERR_JWKS_TIMEOUT");
  assert.equal(e.retryable, true);
  assert.throws(() => v.verifySync(t, { now: T0 + 3600 + 120 }), { code: "ERR_JWKS_TIMEOUT" });
  o.fail = false; // back up: the next call after the failed fetch's backoff (at most the 30 s cooldown) refetches and recovers
  assert.equal((await v.verify(await token(k1), { now: T0 + 3600 + 120 + 30 })).claims.iss, ISS);
  await o.close();
});

test("a refusing source is retried with backoff (1, 2, 4 … s up to the cooldown, jittered), not once per request", async () => {
  // A loopback port that refuses connections: bound once, then closed.
  const closed = createServer();
  await new Promise((ok) => closed.listen(0, "127.0.0.1", ok));
  const port = closed.address().port;
  await new Promise((ok) => closed.close(ok));
  let attempts = 0;
  const counting = (url, init) => {
    attempts++;
    return fetch(url, init);
  };
  const k1 = await key("k1");
  const t = await token(k1);
  const v = new Validator({ jwks: remoteJwks(`http://127.0.0.1:${port}/jwks`, { fetch: counting }), issuer: ISS });
  // 20 requests a second for two simulated minutes: 2,400 verifications.
  let refused = 0;
  const logged = [];
  const warn = console.warn;
  console.warn = (...args) => logged.push(args.join(" "));
  try {
    for (let sec = 0; sec < 120; sec++) {
      for (let i = 0; i < 20; i++) {
        const e = await v.verify(t, { now: T0 + sec }).catch((x) => x);
        assert.equal(e.code, "ERR_JWKS_TIMEOUT");
        assert.match(e.cause, /^network error: /);
        refused++;
      }
    }
  } finally {
    console.warn = warn;
  }
  assert.equal(refused, 2400);
  // One log line for the state change, not one per attempt.
  assert.equal(logged.length, 1, logged.join("\n"));
  assert.match(logged[0], /^jwt-edge: remote source jwks could not be fetched \(network error: .*\); retrying with backoff; verifications that need it fail closed meanwhile$/);
  // Without jitter: at 0, 1, 3, 7, 15, 31, 61, 91 s (8 attempts); jitter
  // (each gap in the upper half of its delay) adds a few at most.
  assert.ok(attempts >= 8 && attempts <= 14, `${attempts} fetch attempts for 2,400 requests`);

  // A source that comes back is used once the backoff has passed (at most the cooldown).
  const o = await origin();
  try {
    o.keys = [k1];
    o.fail = true;
    const w = new Validator({ jwks: remoteJwks(o.url("/jwks"), { cooldown: 10 }), issuer: ISS });
    for (let sec = 0; sec < 60; sec++) await w.verify(t, { now: T0 + sec }).catch(() => {});
    // 9 attempts without jitter (0, 1, 3, 7, 15, 25, 35, 45, 55); with the
    // shortest jittered gaps (1, 1, 2, 4, then 5 s) 15; a request a second
    // without backoff would be 60.
    assert.ok(o.requests.jwks >= 9 && o.requests.jwks <= 15, `${o.requests.jwks} requests to a failing origin in 60 s`);
    o.fail = false;
    let recovered;
    const logged = [];
    const warn = console.warn;
    console.warn = (...args) => logged.push(args.join(" "));
    try {
      for (let sec = 60; sec <= 71 && recovered === undefined; sec++) {
        recovered = await w.verify(t, { now: T0 + sec }).then(() => sec, () => undefined);
      }
    } finally {
      console.warn = warn;
    }
    assert.ok(recovered !== undefined && recovered <= 70, `recovered at +${recovered} s (cooldown 10 s)`);
    assert.equal(logged.length, 1, logged.join("\n"));
    assert.match(logged[0], /^jwt-edge: remote source jwks fetched again after \d+ failed attempts$/);
  } finally {
    await o.close();
  }
});

test("a 200 whose body is not a JWKS counts as a failed fetch: the held keys stay", async () => {
  const o = await origin();
  const k1 = await key("k1");
  o.keys = [k1];
  const v = new Validator({ jwks: remoteJwks(o.url("/jwks"), { maxStale: 3600 }), issuer: ISS });
  await v.verify(await token(k1), { now: T0 });
  o.broken = true; // a bad deploy of the IdP serves an HTML page with 200
  const before = o.requests.jwks;
  assert.equal((await v.verify(await token(k1), { now: T0 + 200 })).claims.iss, ISS);
  await new Promise((r) => setTimeout(r, 50)); // the background refresh lands
  assert.ok(o.requests.jwks > before, "the stale JWKS was refetched");
  assert.equal((await v.verify(await token(k1), { now: T0 + 201 })).claims.iss, ISS, "k1 still verifies");
  assert.equal(v.verifySync(await token(k1), { now: T0 + 202 }).claims.iss, ISS);
  const e = await v.verify(await token(k1), { now: T0 + 200 + 3600 + 1 }).catch((x) => x);
  assert.equal(e.code, "ERR_JWKS_TIMEOUT", "past maxStale the broken source fails closed");
  o.broken = false; // the next call after the backoff (at most the 30 s cooldown) recovers
  assert.equal((await v.verify(await token(k1), { now: T0 + 200 + 3600 + 1 + 30 })).claims.iss, ISS);
  await o.close();
});

test("single flight: concurrent first calls make exactly one fetch; a hung fetch times out", async () => {
  const o = await origin();
  const k1 = await key("k1");
  o.keys = [k1];
  o.delayMs = 150;
  const v = new Validator({ jwks: remoteJwks(o.url("/jwks")), issuer: ISS });
  const tokens = await Promise.all(Array.from({ length: 25 }, () => token(k1)));
  const results = await Promise.all(tokens.map((t) => v.verify(t, { now: T0 })));
  assert.equal(results.length, 25);
  assert.equal(o.requests.jwks, 1, "one fetch for 25 concurrent verifications");
  // A server slower than the timeout: the cold validator fails closed.
  o.delayMs = 2500;
  const slow = new Validator({ jwks: remoteJwks(o.url("/jwks"), { timeout: 1 }), issuer: ISS });
  const e = await slow.verify(tokens[0], { now: T0 }).catch((x) => x);
  assert.equal(e.code, "ERR_JWKS_TIMEOUT");
  await o.close();
});

test("exportCache/importCache carry the JWKS to a new isolate without a fetch", async () => {
  const o = await origin();
  const k1 = await key("k1");
  o.keys = [k1];
  const a = new Validator({ jwks: remoteJwks(o.url("/jwks")), issuer: ISS });
  await a.verify(await token(k1), { now: T0 });
  const snapshot = a.exportCache();
  const b = new Validator({ jwks: remoteJwks(o.url("/jwks")), issuer: ISS });
  b.importCache(snapshot);
  assert.equal((await b.verify(await token(k1), { now: T0 + 10 })).claims.iss, ISS);
  assert.equal(o.requests.jwks, 1, "the second isolate used the snapshot");
  assert.throws(() => b.importCache("{not json"), { code: "ERR_JWKS_INVALID" });
  await o.close();
});

test("remote revocation lists must be signed; a revoked token fails", async () => {
  const o = await origin();
  const k1 = await key("k1");
  o.keys = [k1];
  const revoked = await token(k1, { jti: "bad-1" });
  const list = { iss: ISS, epoch: 1, generated_at: T0, jti: [{ jti: "bad-1", exp: T0 + 3600 }], sub: [], kid: [] };
  o.list = await new CompactSign(new TextEncoder().encode(JSON.stringify(list)))
    .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "revocation-list+jwt" })
    .sign(k1.privateKey);
  const v = new Validator({ jwks: remoteJwks(o.url("/jwks")), revocations: remoteRevocations(o.url("/revocations")), issuer: ISS });
  const e = await v.verify(revoked, { now: T0 }).catch((x) => x);
  assert.equal(e.code, "ERR_JWT_REVOKED");
  assert.equal((await v.verify(await token(k1), { now: T0 })).claims.iss, ISS);
  // An unsigned list from the network is refused: nothing usable, fail closed.
  const u = await origin();
  u.keys = [k1];
  u.list = JSON.stringify(list);
  const w = new Validator({ jwks: remoteJwks(u.url("/jwks")), revocations: remoteRevocations(u.url("/revocations")), issuer: ISS });
  const e2 = await w.verify(await token(k1), { now: T0 }).catch((x) => x);
  assert.equal(e2.code, "ERR_REVOCATIONS_UNAVAILABLE");
  await o.close();
  await u.close();
});

test("remote failures say what happened: HTTP status, network cause, URL, last good fetch; verifySync before any fetch says so", async () => {
  const o = await origin();
  const k = await key("d1");
  o.keys = [k];
  const t = await token(k);
  try {
    // Never fetched: verifySync does not fetch, and says so.
    const fresh = new Validator({ jwks: remoteJwks(o.url("/jwks")), issuer: ISS });
    const e0 = (() => { try { fresh.verifySync(t, { now: T0 }); } catch (e) { return e; } })();
    assert.equal(e0.code, "ERR_JWKS_TIMEOUT");
    assert.equal(e0.cause, "not fetched yet");
    assert.equal(e0.source, "jwks");
    assert.equal(e0.url, o.url("/jwks"));
    assert.match(e0.message, /none was fetched yet/);
    // HTTP 503 from the start: the status, when, and no good copy.
    o.fail = true;
    const v = new Validator({ jwks: remoteJwks(o.url("/jwks")), issuer: ISS });
    const e1 = await v.verify(t, { now: T0 }).catch((e) => e);
    assert.equal(e1.code, "ERR_JWKS_TIMEOUT");
    assert.equal(e1.status, 503);
    assert.equal(e1.cause, "HTTP 503");
    assert.equal(e1.failedAt, T0);
    assert.equal(e1.lastGoodAt, undefined);
    assert.equal(e1.url, o.url("/jwks"));
    // Good once, then the origin goes away (connection refused) past maxStale.
    o.fail = false;
    const w = new Validator({ jwks: remoteJwks(o.url("/jwks"), { maxStale: 10 }), issuer: ISS });
    await w.verify(t, { now: T0 });
    await o.close();
    const late = T0 + 86_400;
    const e2 = await w.verify(t, { now: late }).catch((e) => e);
    assert.equal(e2.code, "ERR_JWKS_TIMEOUT");
    assert.equal(e2.status, undefined);
    assert.match(e2.cause, /^network error: /);
    assert.equal(e2.lastGoodAt, T0);
    assert.match(e2.message, /last good copy fetched at 1800000000/);
  } finally {
    await o.close().catch(() => {});
  }
});
