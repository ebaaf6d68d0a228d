// Entry with the .wasm embedded (`jwt-edge/inline`, `jwt-edge/full/inline`),
// for bundlers that do not emit assets referenced by
// `new URL(..., import.meta.url)` (esbuild, Rollup without a plugin) and for
// IIFE bundles: the bytes are a base64 string in a JS module, compiled
// synchronously, so there is neither a fetch nor a top-level await.
// WebCrypto verifies where the host has it. Not for Cloudflare Workers, which
// refuse to compile wasm from bytes: they use the "workerd"/"worker" entry.
import * as wasm from "./wasm/jwt_edge.js";
import wasmBase64 from "./wasm/jwt_edge_bg.wasm.base64.js";
import { createApi, JwtEdgeError } from "../lib/api.js";
import { webCryptoHost } from "../lib/host-webcrypto.js";

const text = atob(wasmBase64);
const bytes = new Uint8Array(text.length);
for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
wasm.initSync({ module: bytes });
const api = createApi(wasm, webCryptoHost);
export const { Validator, inspect, rustAlgorithms, remoteJwks, remoteRevocations, remoteStatusLists, discover } = api;
export { JwtEdgeError };
/** Which entry (export condition) was loaded. */
export const entry = "inline";
