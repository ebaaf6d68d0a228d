// Node entry for require() (the "require" condition): CommonJS, for Node
// versions without require(esm) (18, and 20 before 20.19). Reads the .wasm
// synchronously from disk; node:crypto verifies. The modules it requires are
// the ESM glue converted to CommonJS by pkg-scripts/build.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const wasm = require("./wasm/jwt_edge.cjs");
const { createApi, JwtEdgeError } = require("../lib/api.cjs");
const { nodeHost } = require("../lib/host-node.cjs");

wasm.initSync({ module: readFileSync(join(__dirname, "wasm", "jwt_edge_bg.wasm")) });
const api = createApi(wasm, nodeHost);
exports.Validator = api.Validator;
exports.inspect = api.inspect;
exports.rustAlgorithms = api.rustAlgorithms;
exports.remoteJwks = api.remoteJwks;
exports.discover = api.discover;
exports.remoteRevocations = api.remoteRevocations;
exports.remoteStatusLists = api.remoteStatusLists;
exports.JwtEdgeError = JwtEdgeError;
/** Which entry (export condition) was loaded. */
exports.entry = "node-require";
