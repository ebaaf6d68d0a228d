// esbuild, Node server bundle: jwt-edge stays external (--packages=external),
// so Node loads it from node_modules with its .wasm beside it.
import { JwtEdgeError, Validator, entry } from "jwt-edge";
import { check } from "../check.js";

console.log(JSON.stringify(await check({ JwtEdgeError, Validator, entry }, JSON.parse(process.env.FIXTURE))));
