// Bun runner: imports the built package through the "bun" export condition.
import * as defaultBuild from "jwt-edge";
import * as fullBuild from "jwt-edge/full";
import { report, runSuite } from "./suite.mjs";

const fx = await Bun.file(process.env.JWT_EDGE_FIXTURES ?? "target/js-test/fixtures.json").json();
const results = [];
for (const [variant, api] of [["default", defaultBuild], ["full", fullBuild]]) {
  results.push(...(await runSuite(api, variant, fx, "bun")).map((r) => ({ ...r, name: `bun ${r.name}` })));
}
process.exit(report(results, console.log) === 0 ? 0 : 1);
