// webpack 5: "jwt-edge" as is; webpack emits the .wasm that the browser
// entry references with new URL(..., import.meta.url) (asset modules).
import { JwtEdgeError, Validator, entry } from "jwt-edge";
import { check } from "../check.js";

fetch("/fixture.json")
  .then((r) => r.json())
  .then((fx) => check({ JwtEdgeError, Validator, entry }, fx))
  .then(
    (result) => (window.__result = result),
    (e) => (window.__result = { error: String(e?.stack ?? e) }),
  );
