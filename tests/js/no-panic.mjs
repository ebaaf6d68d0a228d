// No panic reachable from JS: every input of the attack + fuzz corpus (the
// seeds written by `tests/fuzz_fallback.rs write_seed_corpus`, which include the
// attack-catalog tokens and the shared vectors, plus whatever cargo-fuzz added to
// target/fuzz-corpus) goes through the built wasm package (release profile,
// panic = abort: a Rust panic is a wasm trap, a RuntimeError here). Every call
// must either succeed or throw a JwtEdgeError; afterwards the very same
// instances must still verify good tokens.
//
// Usage: node tests/js/no-panic.mjs [corpus dir] (default target/fuzz-corpus).
import { createHmac } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as defaultBuild from "jwt-edge";
import * as fullBuild from "jwt-edge/full";

const dir = process.argv[2] ?? process.env.JWT_EDGE_CORPUS_DIR ?? "target/fuzz-corpus";
const fx = JSON.parse(readFileSync(join(dir, "fixtures.json"), "utf8"));
const ALL = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const utf8 = new TextDecoder("utf-8"); // lossy, like the Rust harness

function corpus(target) {
  let names = [];
  try {
    names = readdirSync(join(dir, target)).sort();
  } catch {}
  return names.map((n) => readFileSync(join(dir, target, n)));
}

const b64 = (b) => Buffer.from(b).toString("base64url");
const signHs256 = (secret, header, payload) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${b64(createHmac("sha256", secret).update(input).digest())}`;
};

const failures = [];
async function call(what, input, fn) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof Error && e.name === "JwtEdgeError" && typeof e.code === "string") return;
    failures.push({ what, error: `${e?.name}: ${e?.message}`, input: String(input).slice(0, 300) });
  }
}

async function run(name, api) {
  const { Validator, inspect, JwtEdgeError } = api;
  const now = fx.now;
  const tokens = new Validator({ jwks: fx.fixedJwks, secret: new Uint8Array(Buffer.from(fx.rfcHsK, "base64url")), algorithms: ALL, leeway: 0 });
  const signedOpts = {
    secret: fx.signedSecret,
    algorithms: ["HS256"],
    issuer: fx.iss,
    audience: fx.aud,
    leeway: 5,
    maxTokenAge: 86400,
    scopes: ["read"],
    revocations: fx.signedRevocations,
  };
  const signed = new Validator(signedOpts);
  const scratch = new Validator({ jwks: fx.fixedJwks });
  // A configured secret has no kid, so the JS side signs without one.
  const plainHeader = Buffer.from('{"alg":"HS256"}');
  const good = signHs256(fx.signedSecret, plainHeader, Buffer.from(fx.goodSignedToken.split(".")[1], "base64url"));
  const counts = {};
  const count = (t) => (counts[t] = (counts[t] ?? 0) + 1);

  for (const t of new Set([...corpus("verify_token"), ...corpus("inspect")].map((b) => utf8.decode(b)))) {
    count("tokens");
    await call(`${name} verifySync`, t, () => tokens.verifySync(t, { now }));
    await call(`${name} verify`, t, () => tokens.verify(t, { now: fx.rfcNow }));
    await call(`${name} inspect`, t, () => inspect(t, { now }));
    await call(`${name} signed.verifySync`, t, () => signed.verifySync(t, { now }));
  }
  // Whole requests (DPoP): Authorization, DPoP, method, URL split at 0xFF, as
  // the dpop_request fuzz target reads them; headers the fetch API cannot
  // carry are answered by Request itself, which is not jwt-edge's to test.
  const dpop = new Validator({ jwks: fx.fixedJwks, dpop: { nonceSecret: fx.signedSecret } });
  for (const data of corpus("dpop_request")) {
    count("dpop_request");
    const parts = [];
    let from = 0;
    for (let i = 0; i <= data.length; i++) {
      if (i === data.length || data[i] === fx.split) {
        parts.push(utf8.decode(data.subarray(from, i)));
        from = i + 1;
      }
    }
    const [auth = "", proof = "", method = "GET", url = "https://api.example/resource"] = parts;
    let request;
    try {
      const headers = new Headers();
      if (auth) headers.set("authorization", auth);
      if (proof) headers.set("dpop", proof);
      request = new Request(URL.canParse(url) ? url : "https://api.example/resource", { method: /^[A-Za-z]+$/.test(method) && !/^(connect|trace|track)$/i.test(method) ? method : "GET", headers });
    } catch {
      continue;
    }
    await call(`${name} verifyRequest`, auth, () => dpop.verifyRequest(request, { now }));
    if (proof) await call(`${name} verify(dpop)`, proof, () => dpop.verify(auth.replace(/^\S+ */, ""), { now, dpop: { proof, method, url } }));
    if (proof) await call(`${name} verifySync(dpop)`, proof, () => dpop.verifySync(auth.replace(/^\S+ */, ""), { now, dpop: { proof, method, url } }));
  }
  for (const data of corpus("verify_signed")) {
    count("verify_signed");
    const i = data.indexOf(fx.split);
    const [header, payload] = i >= 0 ? [data.subarray(0, i), data.subarray(i + 1)] : [plainHeader, data];
    const t = signHs256(fx.signedSecret, header, payload);
    await call(`${name} signed.verifySync`, t, () => signed.verifySync(t, { now }));
    await call(`${name} signed.verify`, t, () => signed.verify(t, { now }));
  }
  for (const data of corpus("jwks")) {
    count("jwks");
    const text = utf8.decode(data);
    await call(`${name} new Validator(jwks)`, text, () => new Validator({ jwks: text }));
    await call(`${name} setJwks`, text, () => scratch.setJwks(text));
    let obj;
    try {
      obj = JSON.parse(text);
    } catch {}
    if (obj !== undefined) await call(`${name} setJwks(object)`, text, () => scratch.setJwks(obj));
    await call(`${name} new Validator(secret jwks)`, text, () => new Validator({ jwks: text, secret: fx.signedSecret }));
  }
  for (const data of corpus("revocation")) {
    count("revocation");
    const text = utf8.decode(data);
    const scratchSigned = new Validator(signedOpts);
    await call(`${name} setRevocations`, text, () => scratchSigned.setRevocations(text));
    const jws = signHs256(fx.signedSecret, Buffer.from('{"alg":"HS256","typ":"revocation-list+jwt"}'), data);
    await call(`${name} setRevocations(signed)`, jws, () => scratchSigned.setRevocations(jws));
    await call(`${name} new Validator(revocations)`, text, () => new Validator({ ...signedOpts, revocations: text }));
    await call(`${name} verify after setRevocations`, text, () => scratchSigned.verifySync(good, { now }));
  }

  // Hostile times and options (the wasm adapter's own parsing).
  for (const t of [-1, -0, NaN, Infinity, -Infinity, 1e300, 2 ** 64, 2 ** 53 + 1, 0.5, "1700000000", null, {}]) {
    count("times");
    await call(`${name} verifySync now=${t}`, t, () => signed.verifySync(good, { now: t }));
    await call(`${name} verify now=${t}`, t, () => signed.verify(good, { now: t }));
    await call(`${name} inspect now=${t}`, t, () => inspect(good, { now: t }));
  }
  const hostileOptions = [
    {}, { jwks: null }, { secret: "" }, { secret: new Uint8Array(0) }, { secret: 1 },
    { jwks: fx.fixedJwks, leeway: -1 }, { jwks: fx.fixedJwks, leeway: NaN }, { jwks: fx.fixedJwks, leeway: 1e308 },
    { jwks: fx.fixedJwks, maxTokenAge: Infinity }, { jwks: fx.fixedJwks, kidlessCandidates: 1e20 },
    { jwks: fx.fixedJwks, kidlessCandidates: -1 }, { jwks: fx.fixedJwks, algorithms: ["none"] },
    { jwks: fx.fixedJwks, algorithms: [] }, { jwks: fx.fixedJwks, algorithms: "ES256" },
    { jwks: fx.fixedJwks, issuer: [1] }, { jwks: fx.fixedJwks, audience: [[]] }, { jwks: fx.fixedJwks, typ: {} },
    { jwks: fx.fixedJwks, requiredClaims: [null] }, { jwks: fx.fixedJwks, scopes: "a" }, { jwks: fx.fixedJwks, crypto: "x" },
    { jwks: fx.fixedJwks, revocations: "{" }, { jwks: fx.fixedJwks, revocations: 1 }, { jwks: { keys: "x" } },
    { jwks: fx.fixedJwks, unknown: 1 }, { jwks: "x".repeat(300 * 1024) },
  ];
  for (const o of hostileOptions) {
    count("options");
    await call(`${name} new Validator(${JSON.stringify(o).slice(0, 80)})`, JSON.stringify(o), () => new Validator(o));
  }
  for (const bad of [null, undefined, 1, "", "x".repeat(1 << 20)]) {
    count("non-tokens");
    await call(`${name} verifySync(${typeof bad})`, bad, () => signed.verifySync(bad, { now }));
    await call(`${name} inspect(${typeof bad})`, bad, () => inspect(bad));
  }

  // The same instances keep answering.
  const ok = signed.verifySync(good, { now });
  if (ok.claims.iss !== fx.iss) throw new Error(`${name}: good token not verified after the corpus`);
  await signed.verify(good, { now });
  tokens.verifySync(fx.rfcTokens[0], { now: fx.rfcNow }); // HS256 (RFC 7515 A.1)
  await tokens.verify(fx.rfcTokens[2], { now: fx.rfcNow }); // ES256 (A.3), host crypto
  if (inspect(good, { now }).claims.sub !== "user-1") throw new Error(`${name}: inspect broken after the corpus`);
  scratch.setJwks(fx.fixedJwks);
  try {
    signed.verifySync(`${good}x`, { now });
    throw new Error("tampered token accepted");
  } catch (e) {
    if (!(e instanceof JwtEdgeError)) throw e;
  }
  console.log(`no-panic ${name}: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ")}; instances still verify`);
}

const start = Date.now();
await run("default", defaultBuild);
await run("full", fullBuild);
if (failures.length) {
  console.log(`FAIL: ${failures.length} calls threw something other than a JwtEdgeError (a wasm trap = a Rust panic):`);
  for (const f of failures.slice(0, 20)) console.log(`  ${f.what}: ${f.error}\n     ${JSON.stringify(f.input)}`);
  process.exit(1);
}
console.log(`no-panic: every call answered or threw JwtEdgeError (${((Date.now() - start) / 1000).toFixed(1)} s)`);
