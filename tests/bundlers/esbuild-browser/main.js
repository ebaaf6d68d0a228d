// esbuild, browser: `jwt-edge/inline` (the .wasm embedded as base64), so the
// bundle is one file, with no asset to copy and no top-level await (the
// runner bundles it as an IIFE).
import { JwtEdgeError, Validator, entry } from "jwt-edge/inline";
import { check } from "../check.js";

fetch("/fixture.json")
  .then((r) => r.json())
  .then((fx) => check({ JwtEdgeError, Validator, entry }, fx))
  .then(
    (result) => (window.__result = result),
    (e) => (window.__result = { error: String(e?.stack ?? e) }),
  );
