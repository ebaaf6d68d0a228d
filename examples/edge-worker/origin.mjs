// A stand-in origin for the demo: answers every request with the path and the
// x-jwt-* headers the gateway forwarded. Prints {"listening":"127.0.0.1:PORT"}.
// Usage: node examples/edge-worker/origin.mjs [port]
import { createServer } from "node:http";

const server = createServer((req, res) => {
  const forwarded = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-jwt-") || k === "authorization"));
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ origin: "reports-api", path: req.url, forwarded }) + "\n");
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const { address, port } = server.address();
  console.log(JSON.stringify({ listening: `${address}:${port}` }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
