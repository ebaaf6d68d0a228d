// jwt-edge gateway: an ES-module worker (Cloudflare Workers / workerd) that
// protects an origin. It takes `Authorization: Bearer <token>`, validates the
// token with jwt-edge against the issuer's JWKS URL and signed revocation list
// (remote, cached, stale-if-error), and
//   - forwards the request to the origin with the verified claims as headers
//     (x-jwt-sub, x-jwt-scope, x-jwt-client-id by default), after removing any
//     such header the client sent;
//   - answers 401 invalid_token / 400 invalid_request / 403 insufficient_scope
//     with `WWW-Authenticate: Bearer ...` (RFC 6750 §3) and a small JSON body
//     carrying the ERR_* code;
//   - writes one JSON decision record per request to the log (never the token),
//     always with `outcome` (allow / deny / error) and `code` ("OK" for an allow,
//     else the ERR_* code) so that a log pipeline can count decisions;
//   - counts every decision: one Analytics Engine data point per request when the
//     DECISIONS dataset is bound, and per-isolate counters that METRICS_PATH serves
//     in the Prometheus text format (see "Decision metrics" below).
//
// Bindings (text; see examples/edge-worker/config.mjs):
//   ISSUER, AUDIENCE        expected `iss` and `aud` (AUDIENCE may be a JSON array)
//   JWKS_URL                the issuer's JWKS (jwt-edge serve: /.well-known/jwks.json)
//   REVOCATIONS_URL         optional: the signed revocation list (jwt-edge serve: /revocations)
//   ORIGIN_URL              where verified requests go (path and query are kept)
//   REALM                   optional, default "api"
//   ROUTES                  optional JSON: [{"prefix": "/admin", "scopes": ["write:reports"]}, ...]
//                           (first matching prefix; no match: a valid token is enough)
//   CLAIM_HEADERS           optional JSON: {"sub": "x-jwt-sub", ...} (claim -> header)
//   JWKS_OPTIONS, REVOCATIONS_OPTIONS  optional JSON for remoteJwks/remoteRevocations
//                           ({minTtl, maxTtl, cooldown, maxStale, timeout}, seconds)
//   STATUS_LISTS            "on": check IETF Token Status Lists (fetched from the URI each
//                           token names, only under the issuer's origin)
//   STATUS_LISTS_OPTIONS    optional JSON for remoteStatusLists (as JWKS_OPTIONS)
//   STATUS_LISTS_BASE       optional: where the issuer's origin is reachable from here
//   TYP                     optional: required header typ (default "at+jwt"; "" for none)
//   FORWARD_AUTHORIZATION   "true" to pass the Authorization header on (default: removed)
//   DPOP                    "off" (default: Bearer tokens, checked here as below), "allowed" (DPoP
//                           RFC 9449 or Bearer) or "required" (DPoP only): the request goes through
//                           validator.verifyRequest, which reads Authorization and DPoP, checks the
//                           proof against this request's method and URL and the token's cnf.jkt,
//                           and every refusal is answered with the error's status, WWW-Authenticate
//                           and DPoP-Nonce; a token bound to a key is refused as Bearer in every mode
//   DPOP_NONCE_SECRET       optional (DPOP allowed|required): require server nonces (RFC 9449 §9),
//                           stateless, accepted by every isolate configured with the same secret
//   METRICS_PATH            optional, e.g. "/__jwt-edge/metrics": GET on exactly this path is
//                           answered with this isolate's decision counters (Prometheus text),
//                           not proxied; unset: no such endpoint
// Bindings (other):
//   DECISIONS               optional Workers Analytics Engine dataset (wrangler:
//                           [[analytics_engine_datasets]] binding = "DECISIONS"); one data point
//                           per request, schema below
import { JwtEdgeError, Validator, inspect, remoteJwks, remoteRevocations, remoteStatusLists } from "jwt-edge";

const DEFAULT_CLAIM_HEADERS = { sub: "x-jwt-sub", scope: "x-jwt-scope", client_id: "x-jwt-client-id" };
// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
// Retryable failures of the issuer's documents: the gateway, not the token, is at fault.
const UNAVAILABLE = new Set(["ERR_JWKS_TIMEOUT", "ERR_REVOCATIONS_UNAVAILABLE", "ERR_STATUS_LIST_UNAVAILABLE"]);

let state; // per isolate: the validator (and its remote caches) and the parsed config

function json(text, fallback) {
  if (text === undefined || text === "") return fallback;
  return JSON.parse(text);
}

function setup(env) {
  const audience = env.AUDIENCE?.startsWith("[") ? JSON.parse(env.AUDIENCE) : env.AUDIENCE;
  const options = {
    jwks: remoteJwks(env.JWKS_URL, json(env.JWKS_OPTIONS, {})),
    issuer: env.ISSUER,
    audience,
  };
  // RFC 9068 access tokens (what jwt-edge issues) carry typ "at+jwt"; TYP="" accepts any typ.
  if (env.TYP !== "") options.typ = env.TYP ?? "at+jwt";
  if (env.REVOCATIONS_URL) options.revocations = remoteRevocations(env.REVOCATIONS_URL, json(env.REVOCATIONS_OPTIONS, {}));
  // IETF Token Status Lists: each token's list is fetched from the URI it
  // names (only under the issuer's origin). STATUS_LISTS_BASE: where that
  // origin is reachable from this worker, when not at its public address
  // (an internal route; the tests' loopback issuer).
  if (env.STATUS_LISTS === "on") {
    const remote = json(env.STATUS_LISTS_OPTIONS, {});
    if (env.STATUS_LISTS_BASE) {
      const from = new URL(env.ISSUER).origin;
      const to = env.STATUS_LISTS_BASE.replace(/\/$/, "");
      remote.fetch = (url, init) => fetch(String(url).replace(from, to), init);
    }
    options.statusLists = remoteStatusLists(remote);
  }
  const dpop = env.DPOP ?? "off";
  if (!["off", "allowed", "required"].includes(dpop)) throw new Error(`DPOP must be off, allowed or required, not ${dpop}`);
  if (dpop !== "off") {
    options.dpop = { required: dpop === "required" };
    if (env.DPOP_NONCE_SECRET) options.dpop.nonceSecret = env.DPOP_NONCE_SECRET;
  }
  const claimHeaders = json(env.CLAIM_HEADERS, DEFAULT_CLAIM_HEADERS);
  return {
    dpop: dpop !== "off",
    validator: new Validator(options),
    realm: env.REALM || "api",
    origin: new URL(env.ORIGIN_URL),
    routes: json(env.ROUTES, []),
    claimHeaders,
    stripped: new Set(Object.values(claimHeaders).map((h) => h.toLowerCase())),
    forwardAuthorization: env.FORWARD_AUTHORIZATION === "true",
  };
}

// A quoted-string value safe for WWW-Authenticate (RFC 6750 §3: %x20-21 / %x23-5B / %x5D-7E).
const quoted = (s) => `"${String(s).replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "?").slice(0, 200)}"`;

function deny(cfg, status, error, code, description, extra = {}) {
  const params = [`realm=${quoted(cfg.realm)}`];
  if (error) params.push(`error=${quoted(error)}`);
  if (description) params.push(`error_description=${quoted(description)}`);
  if (extra.scope) params.push(`scope=${quoted(extra.scope)}`);
  const headers = { "www-authenticate": `Bearer ${params.join(", ")}`, "cache-control": "no-store" };
  if (status === 503) {
    delete headers["www-authenticate"];
    headers["retry-after"] = "5";
  }
  const body = { error: code };
  if (error) body.oauth_error = error;
  if (description) body.message = description;
  if (extra.claim) body.claim = extra.claim;
  if (extra.revocationReason) body.revocationReason = extra.revocationReason;
  return Response.json(body, { status, headers });
}

function scopesOf(claims) {
  if (typeof claims.scope === "string") return claims.scope.split(" ").filter(Boolean);
  if (Array.isArray(claims.scp)) return claims.scp.filter((s) => typeof s === "string");
  return [];
}

// Header values: printable ASCII; anything else (controls, non-ASCII) is percent-encoded.
const headerValue = (v) =>
  (typeof v === "string" ? v : Array.isArray(v) ? v.join(" ") : JSON.stringify(v)).replace(/[^\x20-\x7e]|%/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return "%EF%BF%BD"; // a lone surrogate: U+FFFD
    }
  });

// --- Decision metrics -------------------------------------------------------
// Every finished request is turned into one data point by dataPoint() (the only
// place that defines the schema), written to the DECISIONS Analytics Engine
// dataset when bound, and counted in this isolate's counters.
//
// Data point (Analytics Engine limits: 1 index of at most 96 bytes, at most 20
// blobs of at most 16 KiB together, at most 20 doubles):
//   indexes: [code]             "OK" for an allow, else the ERR_* code (ASCII; also the sampling key)
//   blob1    outcome            "allow" | "deny" | "error"
//   blob2    code               as the index
//   blob3    status             the HTTP status answered, as a string ("200", "401", "502", ...)
//   blob4    route prefix       the matching ROUTES prefix, or ""
//   blob5    alg                the token's header alg: a JWA name, "other" for anything else
//                               (unverified on a denial), "" when there is no token
//   blob6    client_id          the VERIFIED token's client_id (allows and scope denials), else ""
//   double1  1                  the count: SUM(_sample_interval * double1)
//   double2  ms                 milliseconds from the request to the answer (for an allow: to the
//                               origin's response headers), as in the log record
// Never the token, a signature or a secret; no sub or jti either (they are in the
// log record): metrics carry bounded labels only. client_id is an issuer-assigned
// label (bounded by the number of clients); an unverified one is not used because
// anyone can write anything there. Each blob is cut to 256 characters, so a point
// stays far below the limits.
//
// Counters: `outcome|code` -> count, per ISOLATE. workerd runs many isolates (per
// location, per machine, replaced at any time), so what METRICS_PATH returns is
// one isolate's view since it started: useful to look at one gateway by hand or
// in a test, not to scrape for totals. Aggregate with Analytics Engine or the logs.
// JWA signature algorithms (and "none", so that alg=none attempts show up as such).
const JWA = new Set(["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "none"]);
const MAX_COUNTERS = 256; // the code set is finite; a guard all the same: the rest counts as code "other"
const counters = new Map();
let isolateStarted; // unix seconds of this isolate's first request (the clock does not run at module load)
let writeFailed = false; // a failing DECISIONS binding is reported once per isolate

const label = (v) => (typeof v === "string" ? v.slice(0, 256) : "");
const algLabel = (alg) => (alg === undefined ? "" : JWA.has(alg) ? alg : "other");

function dataPoint(decision, ms) {
  return {
    indexes: [String(decision.code).slice(0, 96)],
    blobs: [
      decision.outcome,
      decision.code,
      String(decision.status),
      label(decision.route),
      label(decision.alg),
      decision.verified === false ? "" : label(decision.client_id),
    ],
    doubles: [1, ms],
  };
}

function countDecision(env, decision, ms) {
  let key = `${decision.outcome}|${decision.code}`;
  if (!counters.has(key) && counters.size >= MAX_COUNTERS) key = `${decision.outcome}|other`;
  counters.set(key, (counters.get(key) ?? 0) + 1);
  if (typeof env.DECISIONS?.writeDataPoint !== "function") return;
  try {
    env.DECISIONS.writeDataPoint(dataPoint(decision, ms));
  } catch (e) {
    // Metrics never fail a request.
    if (!writeFailed) console.log(JSON.stringify({ event: "jwt.metrics_error", message: String(e?.message ?? e).slice(0, 200) }));
    writeFailed = true;
  }
}

// Prometheus text exposition format 0.0.4.
const promLabel = (v) => String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function metricsResponse() {
  const lines = [
    "# HELP jwt_edge_edge_decisions_total Decisions of this gateway ISOLATE since it started, by outcome and code (per isolate: aggregate with Analytics Engine or the logs, not by scraping).",
    "# TYPE jwt_edge_edge_decisions_total counter",
  ];
  for (const [key, n] of [...counters].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const outcome = key.slice(0, key.indexOf("|"));
    const code = key.slice(key.indexOf("|") + 1);
    lines.push(`jwt_edge_edge_decisions_total{outcome="${promLabel(outcome)}",code="${promLabel(code)}"} ${n}`);
  }
  lines.push(
    "# HELP jwt_edge_edge_isolate_start_time_seconds When this isolate served its first request (a change means the counters restarted from zero).",
    "# TYPE jwt_edge_edge_isolate_start_time_seconds gauge",
    `jwt_edge_edge_isolate_start_time_seconds ${isolateStarted}`,
  );
  return new Response(lines.join("\n") + "\n", { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" } });
}

export default {
  async fetch(request, env, ctx) {
    state ??= setup(env);
    const cfg = state;
    const started = Date.now();
    isolateStarted ??= Math.floor(started / 1000);
    const url = new URL(request.url);
    if (env.METRICS_PATH && request.method === "GET" && url.pathname === env.METRICS_PATH) return metricsResponse();
    const route = cfg.routes.find((r) => url.pathname.startsWith(r.prefix));
    const record = { time: new Date().toISOString(), event: "jwt.decision", method: request.method, path: url.pathname, ...(route ? { route: route.prefix } : {}) };
    let decision;
    let response;
    const finish = (fields, res) => {
      decision = fields;
      response = res;
    };

    const auth = request.headers.get("authorization");
    const m = auth === null ? null : cfg.dpop ? [auth, auth.replace(/^\S+ +/, "")] : BEARER.exec(auth);
    if (auth === null && !cfg.dpop) {
      // RFC 6750 §3.1: no error code when the request has no credentials.
      finish({ outcome: "deny", status: 401, code: "ERR_NO_TOKEN" }, deny(cfg, 401, undefined, "ERR_NO_TOKEN", undefined));
    } else if (m === null && !cfg.dpop) {
      finish(
        { outcome: "deny", status: 400, code: "ERR_INVALID_REQUEST" },
        deny(cfg, 400, "invalid_request", "ERR_INVALID_REQUEST", "the Authorization header is not a Bearer token"),
      );
    } else {
      const token = m?.[1] ?? "";
      try {
        const opts = { waitUntil: ctx.waitUntil.bind(ctx) };
        // With DPoP, the request as a whole: the Authorization header (Bearer
        // or DPoP), the proof, and the token bound to the proof's key.
        const { header, claims } = cfg.dpop ? await cfg.validator.verifyRequest(request, opts) : await cfg.validator.verify(token, opts);
        const ids = { alg: header.alg, kid: header.kid, sub: claims.sub, jti: claims.jti, client_id: claims.client_id };
        const granted = scopesOf(claims);
        const missing = (route?.scopes ?? []).filter((s) => !granted.includes(s));
        if (missing.length > 0) {
          finish(
            { outcome: "deny", status: 403, code: "ERR_JWT_CLAIM_VALIDATION_FAILED", claim: "scope", ...ids },
            deny(cfg, 403, "insufficient_scope", "ERR_JWT_CLAIM_VALIDATION_FAILED", `the token lacks the scope ${missing.join(" ")}`, {
              scope: route.scopes.join(" "),
              claim: "scope",
            }),
          );
        } else {
          const headers = new Headers(request.headers);
          for (const name of [...headers.keys()]) if (cfg.stripped.has(name) || name.startsWith("x-jwt-")) headers.delete(name);
          if (!cfg.forwardAuthorization) headers.delete("authorization");
          for (const [claim, name] of Object.entries(cfg.claimHeaders)) {
            if (claims[claim] !== undefined) headers.set(name, headerValue(claims[claim]));
          }
          // Not `new URL(path, origin)`: a path like "//other.host/x" would change the host.
          const target = new URL(cfg.origin);
          target.pathname = target.pathname.replace(/\/$/, "") + url.pathname;
          target.search = url.search;
          const init = { method: request.method, headers, redirect: "manual" };
          if (request.method !== "GET" && request.method !== "HEAD") init.body = request.body;
          let upstream;
          try {
            upstream = await fetch(target, init);
          } catch (e) {
            upstream = Response.json({ error: "ERR_ORIGIN_UNAVAILABLE" }, { status: 502 });
          }
          finish({ outcome: "allow", status: upstream.status, code: "OK", ...ids }, upstream);
        }
      } catch (e) {
        if (!(e instanceof JwtEdgeError)) {
          finish(
            { outcome: "error", status: 500, code: "ERR_INTERNAL", message: String(e?.message ?? e).slice(0, 200) },
            Response.json({ error: "ERR_INTERNAL" }, { status: 500, headers: { "cache-control": "no-store" } }),
          );
        } else {
          // Identifiers for the audit trail, read WITHOUT verification (marked as such).
          let unverified = {};
          try {
            const t = inspect(token);
            unverified = { alg: algLabel(t.header.alg), kid: t.header.kid, sub: t.claims.sub, jti: t.claims.jti, verified: false };
          } catch {
            // not even decodable
          }
          if (cfg.dpop) {
            // The answer Rust gives for this error: status, WWW-Authenticate, DPoP-Nonce.
            const headers = { "cache-control": "no-store" };
            if (e.wwwAuthenticate) headers["www-authenticate"] = e.wwwAuthenticate;
            if (e.dpopNonce) headers["dpop-nonce"] = e.dpopNonce;
            if (e.status === 503) headers["retry-after"] = "5";
            finish(
              { outcome: "deny", status: e.status, code: e.code, ...(e.claim ? { claim: e.claim } : {}), ...unverified },
              Response.json({ error: e.code, message: e.message }, { status: e.status, headers }),
            );
          } else {
            const status = UNAVAILABLE.has(e.code) ? 503 : 401;
            finish(
              { outcome: "deny", status, code: e.code, ...(e.claim ? { claim: e.claim } : {}), ...(e.revocationReason ? { revocation: e.revocationReason } : {}), ...unverified },
              deny(cfg, status, status === 401 ? "invalid_token" : undefined, e.code, e.message, { claim: e.claim, revocationReason: e.revocationReason }),
            );
          }
        }
      }
    }
    const ms = Date.now() - started;
    console.log(JSON.stringify({ ...record, ...decision, ms }));
    countDecision(env, { ...record, ...decision }, ms);
    return response;
  },
};
