// esbuild, browser, with its default settings and the plain `jwt-edge`
// import: esbuild does not copy the .wasm that the browser entry loads, so
// loading fails — and the error must name the fix (`jwt-edge/inline`,
// docs/bundlers.md) rather than only "404". The runner checks the page error.
import { Validator } from "jwt-edge";

window.__result = { loaded: typeof Validator };
