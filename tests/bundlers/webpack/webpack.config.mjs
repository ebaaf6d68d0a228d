// webpack 5 needs nothing for jwt-edge: asset modules emit the .wasm, and
// top-level await is on by default.
import { fileURLToPath } from "node:url";

export default {
  mode: "production",
  entry: "./main.js",
  output: { path: fileURLToPath(new URL("./dist", import.meta.url)), clean: true },
};
