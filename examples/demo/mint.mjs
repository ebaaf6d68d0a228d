// Mints demo tokens with Node's own crypto (OpenSSL), independent of jwt-edge:
// throwaway ES256 and Ed25519 keys generated on every run, a public JWKS, and
// a few tokens (valid, expired, wrong audience, tampered). Usage:
//   node examples/demo/mint.mjs OUT_DIR
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const out = process.argv[2] ?? "target/demo";
mkdirSync(out, { recursive: true });

const b64u = (buf) => Buffer.from(buf).toString("base64url");
const now = Math.floor(Date.now() / 1000);

const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ed = generateKeyPairSync("ed25519");
const ecJwk = { ...ec.publicKey.export({ format: "jwk" }), kid: "demo-es256", alg: "ES256", use: "sig" };
const edJwk = { ...ed.publicKey.export({ format: "jwk" }), kid: "demo-eddsa", alg: "EdDSA", use: "sig" };
writeFileSync(join(out, "jwks.json"), JSON.stringify({ keys: [ecJwk, edJwk] }, null, 2) + "\n");

function jwt(header, claims, key) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  const sig = header.alg === "ES256"
    ? sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" })
    : sign(null, Buffer.from(input), key);
  return `${input}.${b64u(sig)}`;
}

const claims = {
  iss: "https://issuer.demo", sub: "client-42", aud: "https://api.demo",
  iat: now, nbf: now, exp: now + 900, jti: "demo-1", scope: "read:reports write:reports",
};
const es = { alg: "ES256", kid: "demo-es256", typ: "at+jwt" };
const tokens = {
  "valid-es256": jwt(es, claims, ec.privateKey),
  "valid-eddsa": jwt({ alg: "EdDSA", kid: "demo-eddsa", typ: "at+jwt" }, { ...claims, jti: "demo-2" }, ed.privateKey),
  "expired": jwt(es, { ...claims, jti: "demo-3", iat: now - 3600, nbf: now - 3600, exp: now - 2700 }, ec.privateKey),
  "wrong-audience": jwt(es, { ...claims, jti: "demo-4", aud: "https://other.demo" }, ec.privateKey),
};
// Tamper: change the subject in the payload and keep the original signature.
const [h, , s] = tokens["valid-es256"].split(".");
tokens["tampered"] = `${h}.${b64u(JSON.stringify({ ...claims, sub: "admin" }))}.${s}`;
for (const [name, t] of Object.entries(tokens)) writeFileSync(join(out, `${name}.jwt`), t + "\n");
writeFileSync(join(out, "revocations.json"), JSON.stringify({
  iss: "https://issuer.demo", epoch: 1, generated_at: now, jti: [{ jti: "demo-2", exp: now + 900 }], sub: [], kid: [],
}) + "\n");
console.log(`minted ${Object.keys(tokens).length} tokens and a JWKS in ${out}`);
