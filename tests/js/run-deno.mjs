// Deno runner: imports the built package through the "deno" export condition.
import * as defaultBuild from "jwt-edge";
import * as fullBuild from "jwt-edge/full";
import { report, runSuite } from "./suite.mjs";

const fx = JSON.parse(await Deno.readTextFile(Deno.env.get("JWT_EDGE_FIXTURES") ?? "target/js-test/fixtures.json"));
const results = [];
for (const [variant, api] of [["default", defaultBuild], ["full", fullBuild]]) {
  results.push(...(await runSuite(api, variant, fx, "deno")).map((r) => ({ ...r, name: `deno ${r.name}` })));
}
Deno.exit(report(results, console.log) === 0 ? 0 : 1);
