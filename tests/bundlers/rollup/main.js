// Rollup: `jwt-edge/inline` (the .wasm embedded), as Rollup does not emit
// assets referenced with new URL(..., import.meta.url); node-resolve finds
// the package with the "browser" condition.
import { JwtEdgeError, Validator, entry } from "jwt-edge/inline";
import { check } from "../check.js";

fetch("/fixture.json")
  .then((r) => r.json())
  .then((fx) => check({ JwtEdgeError, Validator, entry }, fx))
  .then(
    (result) => (window.__result = result),
    (e) => (window.__result = { error: String(e?.stack ?? e) }),
  );
