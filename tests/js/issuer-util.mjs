// What the end-to-end tests share about the issuer they run: the CLI on a
// throwaway store (development keys, no passphrase), `jwt-edge serve` (or any
// process that prints {"listening":"ADDR"} first) started on loopback, and a
// client-credentials token from its /token endpoint.
import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** The jwt-edge CLI `bin` on the store `db`: `cli("init", …)` returns stdout, trimmed. */
export function issuerCli(bin, db) {
  const env = { ...process.env, JWT_EDGE_DB: db };
  delete env.JWT_EDGE_PASSPHRASE;
  const cli = (...args) => execFileSync(bin, [...args, "--insecure-dev-keys"], { env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  return { cli, env };
}

/** Starts `cmd` (pushed on `children` to be stopped by the caller); resolves
 *  with its address once it printed {"listening":"ADDR"} (20 s at most). */
export function startListening(children, cmd, args, opts = {}) {
  const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "ignore"] });
  children.push(child);
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${cmd} did not start in 20 s`)), 20_000);
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      ok({ child, addr: JSON.parse(line).listening });
    });
    child.once("exit", (c) => fail(new Error(`${cmd} exited with ${c}`)));
  });
}

/** An access token from `issuerUrl`/token for the provisioning key `key` (HTTP Basic). */
export async function clientCredentialsToken(issuerUrl, key, form = {}) {
  const [, id, secret] = /^jep_([0-9a-f]{16})_(.+)$/.exec(key);
  const res = await fetch(`${issuerUrl}/token`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", ...form }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`/token ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
