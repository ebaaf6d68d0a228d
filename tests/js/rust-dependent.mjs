// jwt-edge as a Rust dependency, built the way a dependent builds it:
// examples/rust-edge depends on the crate by path with
// `default-features = false, features = ["es256"]` and keeps its library
// `no_std`. Built here for the host, wasm32-unknown-unknown, wasm32-wasip1 and
// (the library, which must not need std) wasm32v1-none; the host binary and
// the wasip1 module (in Node's WASI) then check the same real tokens, signed
// by jose, and must give the same answers: the claims for a valid token, the
// same ERR_* code for a tampered, an expired and a wrong-audience one.
// Usage: node tests/js/rust-dependent.mjs   (prints "N passed, N failed")
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { WASI } from "node:wasi";
import { SignJWT, exportJWK, generateKeyPair } from "jose";

const root = resolve(import.meta.dirname, "../..");
const manifest = join(root, "examples/rust-edge/Cargo.toml");
const targetDir = join(root, "target/rust-edge");
const cargo = (...args) => {
  const r = spawnSync("cargo", ["build", "--quiet", "--release", "--manifest-path", manifest, ...args], {
    stdio: "inherit", env: { ...process.env, CARGO_TARGET_DIR: targetDir },
  });
  if (r.status !== 0) throw new Error(`cargo build ${args.join(" ")} failed`);
};

let passed = 0, failed = 0;
const check = (name, ok, detail = "") => {
  if (ok) passed++; else failed++;
  console.log(`${ok ? "ok" : "FAIL"} - ${name}${ok || !detail ? "" : `: ${detail}`}`);
};

cargo("--locked");
cargo("--locked", "--target", "wasm32-wasip1");
cargo("--locked", "--target", "wasm32-unknown-unknown");
cargo("--locked", "--lib", "--target", "wasm32v1-none");
check("built for the host, wasm32-unknown-unknown, wasm32-wasip1 and (no_std library) wasm32v1-none", true);

const dir = mkdtempSync(join(tmpdir(), "jwt-edge-dependent-"));
try {
  const ISS = "https://issuer.example", AUD = "https://api.example", NOW = 1_800_000_000;
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] }));
  const sign = (claims) => new SignJWT({ iss: ISS, aud: AUD, sub: "client-1", scope: "read", iat: NOW, exp: NOW + 600, ...claims })
    .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" })
    .sign(privateKey);
  const valid = await sign({});
  const [h, p, s] = valid.split(".");
  const cases = [
    ["valid", valid, 0, null],
    ["tampered signature", `${h}.${p}.${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`, 1, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
    ["expired", await sign({ exp: NOW - 120 }), 1, "ERR_JWT_EXPIRED"],
    ["wrong audience", await sign({ aud: "https://other.example" }), 1, "ERR_JWT_CLAIM_VALIDATION_FAILED"],
  ];

  const native = (token) => {
    const r = spawnSync(join(targetDir, "release/jwt-edge-rust-edge-example"),
      [join(dir, "jwks.json"), ISS, AUD, String(NOW), token], { encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const module = await WebAssembly.compile(readFileSync(join(targetDir, "wasm32-wasip1/release/jwt-edge-rust-edge-example.wasm")));
  const wasi = (token) => {
    const out = join(dir, "stdout"), err = join(dir, "stderr");
    const fo = openSync(out, "w"), fe = openSync(err, "w");
    const w = new WASI({ version: "preview1", args: ["rust-edge", "/data/jwks.json", ISS, AUD, String(NOW), token],
      preopens: { "/data": dir }, stdout: fo, stderr: fe, returnOnExit: true });
    let status;
    try {
      status = w.start(new WebAssembly.Instance(module, w.getImportObject()));
    } finally { closeSync(fo); closeSync(fe); }
    return { status, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
  };

  for (const [name, token, status, code] of cases) {
    const a = native(token), b = wasi(token);
    if (code === null) {
      const claims = a.status === 0 ? JSON.parse(a.stdout) : {};
      check(`${name}: native accepts with the token's claims`, a.status === 0 && claims.sub === "client-1" && claims.aud === AUD, a.stderr);
    } else {
      check(`${name}: native refuses with ${code}`, a.status === status && a.stderr.startsWith(`${code}: `), `${a.status} ${a.stderr}`);
    }
    check(`${name}: the wasip1 module in Node's WASI answers as native does`,
      b.status === a.status && b.stdout === a.stdout && b.stderr === a.stderr, `${b.status} ${b.stdout} ${b.stderr}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
