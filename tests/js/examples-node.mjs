// The README's snippets are real files (examples/npm/*): this checks that the
// README shows each one verbatim, and runs the Node one (the worker and browser
// ones run in run-workerd.mjs and run-browser.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { authenticator } from "../../examples/npm/node.mjs";

const fx = JSON.parse(readFileSync(process.env.JWT_EDGE_FIXTURES ?? "target/js-test/fixtures.json", "utf8"));
const token = (name) => fx.cases.find((c) => c.name === name).token;

test("the README shows every example file verbatim", () => {
  const readme = readFileSync("README.md", "utf8");
  for (const f of ["node.mjs", "worker.js", "browser.js"]) {
    const body = readFileSync(`examples/npm/${f}`, "utf8").trimEnd();
    assert.ok(readme.includes(body), `README.md does not contain examples/npm/${f} as it is`);
  }
});

test("the Node example authenticates bearer tokens", async () => {
  const authenticate = authenticator({ jwks: fx.jwks, issuer: fx.iss, audience: fx.aud });
  assert.deepEqual(await authenticate(`Bearer ${token("valid ES256")}`, fx.now), { ok: true, sub: "client-1", scope: "read write" });
  assert.deepEqual(await authenticate(`Bearer ${token("expired")}`, fx.now), { ok: false, code: "ERR_JWT_EXPIRED", retryable: false });
  assert.deepEqual(await authenticate(`Bearer ${token("unknown kid")}`, fx.now), { ok: false, code: "ERR_JWKS_NO_MATCHING_KEY", retryable: true });
  assert.deepEqual(await authenticate(undefined, fx.now), { ok: false, code: "ERR_JWS_INVALID", retryable: false });
});
