// ML-DSA tokens signed by jose with the host's WebCrypto (RFC 9964), added
// to the suite's fixtures: run by Deno and by Node 24 (whose WebCrypto has
// ML-DSA; the Node the rest of the tests run on has not). Every runtime's
// suite then verifies them like its other cases.
// Usage: deno run --allow-read --allow-write tests/js/make-pq-fixtures.mjs FIXTURES.json
//        node24 tests/js/make-pq-fixtures.mjs FIXTURES.json
import { SignJWT, exportJWK, generateKeyPair } from "jose";

const path = (globalThis.Deno ? Deno.args : process.argv.slice(2))[0] ?? "target/js-test/fixtures.json";
const runtime = globalThis.Deno ? "Deno" : `Node ${process.versions.node.split(".")[0]}`;
const read = async () => (globalThis.Deno ? Deno.readTextFile(path) : (await import("node:fs/promises")).readFile(path, "utf8"));
const write = async (text) => (globalThis.Deno ? Deno.writeTextFile(path, text) : (await import("node:fs/promises")).writeFile(path, text));

const fx = JSON.parse(await read());
const tamper = (t) => {
  const [h, p, s] = t.split(".");
  const i = Math.floor(s.length / 2);
  return `${h}.${p}.${s.slice(0, i)}${s[i] === "A" ? "B" : "A"}${s.slice(i + 1)}`;
};
const tag = runtime.toLowerCase().replace(" ", "");
for (const alg of ["ML-DSA-44", "ML-DSA-65", "ML-DSA-87"]) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `kid-jose-${tag}-${alg.toLowerCase()}`;
  fx.jwks.keys.push({ ...(await exportJWK(publicKey)), kid, use: "sig" });
  const jti = `jose-${tag}-${alg}`;
  const token = await new SignJWT({ iss: fx.iss, aud: fx.aud, sub: "client-1", scope: "read write", jti })
    .setProtectedHeader({ alg, kid, typ: "at+jwt" })
    .setIssuedAt(fx.now)
    .setNotBefore(fx.now)
    .setExpirationTime(fx.now + 3600)
    .sign(privateKey);
  fx.cases.push({ name: `jose (${runtime}) valid ${alg}`, alg, token, expect: { ok: true, jti } });
  fx.cases.push({ name: `jose (${runtime}) tampered ${alg}`, alg, token: tamper(token), expect: { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" } });
}
await write(JSON.stringify(fx));
console.log(`added 6 ML-DSA cases signed by jose on ${runtime}`);
