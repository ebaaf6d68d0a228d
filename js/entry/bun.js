// Bun entry: reads the .wasm file next to this module; WebCrypto verifies.
import { readFileSync } from "node:fs";
import * as wasm from "./wasm/jwt_edge.js";
import { createApi, JwtEdgeError } from "../lib/api.js";
import { webCryptoHost } from "../lib/host-webcrypto.js";

wasm.initSync({ module: readFileSync(new URL("./wasm/jwt_edge_bg.wasm", import.meta.url)) });
const api = createApi(wasm, webCryptoHost);
export const { Validator, inspect, rustAlgorithms, remoteJwks, remoteRevocations, remoteStatusLists, discover } = api;
export { JwtEdgeError };
/** Which entry (export condition) was loaded. */
export const entry = "bun";
