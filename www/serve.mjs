// A minimal static server for the built inspector (target/www), loopback only.
// Usage: node www/serve.mjs [dir=target/www] [port=8000]  -> prints the URL
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, resolve } from "node:path";

const dir = resolve(process.argv[2] ?? "target/www");
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json", ".png": "image/png" };
const server = createServer((req, res) => {
  const path = new URL(req.url, "http://localhost").pathname;
  const file = normalize(join(dir, path.endsWith("/") ? path + "index.html" : path));
  if (!file.startsWith(dir + "/") || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end("not found\n");
  res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "x-content-type-options": "nosniff" });
  createReadStream(file).pipe(res);
});
server.listen(Number(process.argv[3] ?? 8000), "127.0.0.1", () => {
  const { address, port } = server.address();
  console.log(`http://${address}:${port}/`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
