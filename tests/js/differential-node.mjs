// Differential test (node:test): every JWS case of the Wycheproof json_web_*
// files goes through `verify` (host crypto: node:crypto) and `verifySync`
// (pure Rust) of the full build; both must give the same outcome. For the
// default build the same holds for the algorithms it carries in Rust.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as full from "jwt-edge/full";
import * as defaultBuild from "jwt-edge";

const vectors = process.env.JWT_EDGE_VECTORS ?? fileURLToPath(new URL("../vectors/wycheproof", import.meta.url));
const ALL = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

async function outcome(fn) {
  try {
    await fn();
    return "accepted";
  } catch (e) {
    return e.code ?? String(e);
  }
}

function validatorOptions(group) {
  const key = group.public ?? group.private;
  const set = key.keys ? key : { keys: [key] };
  if (set.keys.some((k) => k.kty === "oct")) {
    // Only single configured secrets are expressible through `secret`.
    if (set.keys.length !== 1 || set.keys[0].use === "enc") return null;
    return { secret: new Uint8Array(Buffer.from(set.keys[0].k, "base64url")), algorithms: ALL, requiredClaims: [] };
  }
  // HS* needs a configured secret (refused at construction otherwise).
  return { jwks: set, algorithms: ALL.filter((a) => !a.startsWith("HS")) };
}

let compared = 0;
for (const file of ["json_web_signature_test.json", "json_web_key_test.json", "json_web_crypto_test.json"]) {
  const doc = JSON.parse(readFileSync(join(vectors, file), "utf8"));
  for (const group of doc.testGroups) {
    if (String(group.comment).startsWith("jwe")) continue;
    const opts = validatorOptions(group);
    if (opts === null) continue;
    for (const api of [full, defaultBuild]) {
      let v;
      try {
        v = new api.Validator(opts);
      } catch {
        continue; // key set refused: nothing to compare
      }
      const rust = api.rustAlgorithms();
      for (const t of group.tests) {
        const jws = typeof t.jws === "string" ? t.jws : JSON.stringify(t.jws);
        let alg;
        try {
          alg = JSON.parse(Buffer.from(jws.split(".")[0], "base64url")).alg;
        } catch {}
        if (!rust.includes(alg) && api === defaultBuild) continue;
        test(`${api === full ? "full" : "default"} ${file} tcId ${t.tcId} (${t.comment})`, async () => {
          const host = await outcome(() => v.verify(jws, { now: 0 }));
          const sync = await outcome(() => v.verifySync(jws, { now: 0 }));
          assert.equal(host, sync, `verify (host) gave ${host}, verifySync (Rust) gave ${sync}`);
        });
        compared++;
      }
    }
  }
}
test("the differential compared every expressible case", () => assert.ok(compared >= 560, `only ${compared} cases`));
