// Node runner (node:test): imports the built package through the "node"
// export condition (node_modules/jwt-edge links to pkg/).
import { test } from "node:test";
import { readFileSync } from "node:fs";
import * as defaultBuild from "jwt-edge";
import * as fullBuild from "jwt-edge/full";
import { runSuite } from "./suite.mjs";

const fx = JSON.parse(readFileSync(process.env.JWT_EDGE_FIXTURES ?? "target/js-test/fixtures.json", "utf8"));
for (const [variant, api] of [["default", defaultBuild], ["full", fullBuild]]) {
  for (const r of await runSuite(api, variant, fx, "node")) {
    test(`node ${r.name}`, () => {
      if (!r.ok) throw new Error(r.error);
    });
  }
}

test("node: one JwtEdgeError class for both builds", () => {
  if (defaultBuild.JwtEdgeError !== fullBuild.JwtEdgeError) throw new Error("jwt-edge and jwt-edge/full have different JwtEdgeError classes");
  let thrown;
  try {
    new fullBuild.Validator({ jwks: { keys: [] }, leeway: "x" });
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof defaultBuild.JwtEdgeError)) throw new Error(`an error of jwt-edge/full is not a JwtEdgeError of jwt-edge: ${thrown}`);
});
