// Rollup: node-resolve with the browser condition; the inline entry needs no
// asset handling and no top-level await, so any output format works.
import { nodeResolve } from "@rollup/plugin-node-resolve";

export default {
  input: "main.js",
  output: { dir: "dist", format: "iife" },
  plugins: [nodeResolve({ browser: true })],
};
