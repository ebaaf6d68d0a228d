// The demo's relying party: validates tokens with the jwt-edge npm package
// (wasm core; node:crypto does the signature math), as an API would.
// Usage: node examples/demo/validate.mjs JWKS_FILE ISSUER AUDIENCE [--revocations FILE] NAME=TOKEN_FILE...
import { readFileSync } from "node:fs";
import { JwtEdgeError, Validator } from "jwt-edge";

const [jwksFile, issuer, audience, ...rest] = process.argv.slice(2);
let revocations;
const tokens = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === "--revocations") revocations = readFileSync(rest[++i], "utf8").trim();
  else tokens.push(rest[i].split("="));
}
const validator = new Validator({
  jwks: readFileSync(jwksFile, "utf8"),
  issuer,
  audience,
  typ: "at+jwt",
  scopes: ["read:reports"],
  ...(revocations ? { revocations } : {}),
});
let rejected = 0;
for (const [name, file] of tokens) {
  const token = readFileSync(file, "utf8").trim();
  try {
    const { claims } = await validator.verify(token);
    const left = claims.exp - Math.floor(Date.now() / 1000);
    console.log(`  ✔ ${name}: accepted — sub=${claims.sub} scope="${claims.scope}" expires in ${left} s`);
  } catch (e) {
    if (!(e instanceof JwtEdgeError)) throw e;
    rejected++;
    console.log(`  ✘ ${name}: ${e.code} — ${e.message}`);
  }
}
console.log(`  (${tokens.length - rejected} accepted, ${rejected} rejected)`);
