// The TypeScript declarations cannot drift from the runtime: every export of
// each entry (ESM and CommonJS), every ERR_* code the Rust core and the JS
// glue can produce, every revocation reason and every option name the Rust
// options reader accepts must be declared in pkg/index.d.ts (and index.d.cts).
// Needs pkg/ (pkg-scripts/build). Usage: node tests/js/types-coverage.mjs
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const read = (p) => readFileSync(join(root, p), "utf8");
const dts = read("pkg/index.d.ts");
const dcts = read("pkg/index.d.cts");
const failures = [];
const expect = (ok, what) => {
  if (!ok) failures.push(what);
};

// Exports of every runtime entry.
const require = createRequire(import.meta.url);
const declared = (name) => new RegExp(`export (declare )?(function|class|const|type|interface) ${name}\\b`).test(dts) || new RegExp(`export \\{[^}]*\\b${name}\\b`).test(dts);
for (const entry of ["default/node.js", "full/node.js", "default/browser.js", "default/inline.js"]) {
  const mod = await import(join(root, "pkg", entry));
  for (const name of Object.keys(mod)) expect(declared(name), `${entry} exports ${name}, which index.d.ts does not declare`);
}
for (const entry of ["default/node.cjs", "full/node.cjs"]) {
  const mod = require(join(root, "pkg", entry));
  for (const name of Object.keys(mod)) expect(declared(name) && dcts.includes(name), `${entry} exports ${name}, which the declarations do not`);
}

// Error codes: the core's (src/error.rs) and the glue's (js/*.js).
const union = dts.slice(dts.indexOf("export type ErrorCode"), dts.indexOf(";", dts.indexOf("export type ErrorCode")));
const codes = new Set([...read("src/error.rs").matchAll(/=> "(ERR_[A-Z_]+)"/g)].map((m) => m[1]));
for (const f of ["js/api.js"]) for (const m of read(f).matchAll(/"(ERR_[A-Z_]+)"/g)) codes.add(m[1]);
expect(codes.size >= 15, `found only ${codes.size} error codes`);
for (const c of codes) expect(union.includes(`"${c}"`), `error code ${c} is not in ErrorCode`);

// Revocation reasons.
const reasonLine = dts.match(/revocationReason\?: ([^;]+);/)?.[1] ?? "";
const rs = read("src/error.rs");
const reasons = rs.slice(rs.indexOf("impl RevocationReason"), rs.indexOf("}", rs.indexOf("pub const fn as_str", rs.indexOf("impl RevocationReason"))));
const names = [...reasons.matchAll(/=> "([a-z_]+)"/g)].map((m) => m[1]);
expect(names.length >= 5, `found only ${names.length} revocation reasons`);
for (const r of names) expect(reasonLine.includes(`"${r}"`), `revocation reason ${r} is not declared`);

// Option names the Rust options reader accepts.
const options = read("src/wasm/options.rs");
for (const list of ["POLICY_OPTIONS", "KEY_OPTIONS", "TOP_OPTIONS"]) {
  const body = options.slice(options.indexOf(`const ${list}`), options.indexOf("];", options.indexOf(`const ${list}`)));
  const names = [...body.matchAll(/"([A-Za-z]+)"/g)].map((m) => m[1]);
  expect(names.length > 2, `could not read ${list}`);
  for (const n of names) {
    // remoteJwks/remoteRevocations/remoteStatusLists are written by the glue from jwks/revocations/statusLists.
    if (["remoteJwks", "remoteRevocations", "remoteStatusLists", "discover"].includes(n)) continue;
    expect(new RegExp(`\\b${n}\\?:`).test(dts), `option ${n} (${list}) is not declared`);
  }
}

if (failures.length) {
  for (const f of failures) console.log(`not ok - ${f}`);
  process.exit(1);
}
console.log(`types cover the runtime: exports of 6 entries, ${codes.size} error codes, revocation reasons, option names`);
