// Type-checked (tsc --strict, moduleResolution bundler and nodenext) against the
// built package: the README's examples and every public member must compile,
// and misuse must not (the @ts-expect-error lines fail the check if they compile).
import {
  Validator,
  JwtEdgeError,
  remoteJwks,
  remoteRevocations,
  inspect,
  rustAlgorithms,
  type ErrorCode,
  type VerifiedToken,
} from "jwt-edge";

interface MyClaims {
  scope: string;
  tenant: string;
}

export async function single(token: string, ctx: { waitUntil(p: Promise<unknown>): void }) {
  const v = new Validator({
    jwks: remoteJwks("https://issuer.example/.well-known/jwks.json", { maxStale: 3600 }),
    revocations: remoteRevocations(new URL("https://issuer.example/revocations"), { cooldown: 30 }),
    issuer: "https://issuer.example",
    audience: ["api"],
    cache: 1000,
  });
  const r: VerifiedToken<MyClaims> = await v.verify<MyClaims>(token, { waitUntil: ctx.waitUntil.bind(ctx) });
  const tenant: string = r.claims.tenant;
  const exp: number | undefined = r.claims.exp;
  // @ts-expect-error results are deep-frozen: read-only
  r.claims.tenant = "other";
  const { hits, misses, size } = v.cacheStats;
  const snapshot: string = v.exportCache();
  v.importCache(snapshot);
  return [tenant, exp, hits + misses + size, r.header.alg];
}

export function multi(token: string) {
  const v = new Validator({
    issuers: [
      { issuer: "https://a.example", jwks: { keys: [] }, audience: "a" },
      { issuer: "https://b.example", jwks: remoteJwks("https://b.example/jwks"), algorithms: ["ES256"] },
      { issuer: "https://c.example", secret: new Uint8Array(32), maxTokenAge: 600 },
    ],
    leeway: 5,
  });
  v.setJwks({ keys: [] }, 0);
  try {
    return v.verifySync(token, { now: 1_700_000_000 }).claims.sub;
  } catch (e) {
    if (e instanceof JwtEdgeError) {
      const code: ErrorCode = e.code;
      switch (code) {
        case "ERR_JWKS_TIMEOUT":
        case "ERR_REVOCATIONS_UNAVAILABLE":
          return e.retryable ? "retry" : "fail";
        case "ERR_JWT_CLAIM_VALIDATION_FAILED":
          return e.claim;
        default:
          return e.revocationReason;
      }
    }
    throw e;
  }
}

export function misuse() {
  // @ts-expect-error an issuer entry needs its issuer
  new Validator({ issuers: [{ jwks: { keys: [] } }] });
  // @ts-expect-error revocations cannot take a JWKS source
  new Validator({ jwks: "{}", revocations: remoteJwks("https://x") });
  // @ts-expect-error not an algorithm
  new Validator({ jwks: "{}", algorithms: ["none"] });
  return [inspect("a.b.c").warnings, rustAlgorithms()];
}

// DPoP and the request-level API (issue #27): a worker answers with one line.
export async function resourceServer(request: Request, replayStore: Map<string, number>): Promise<Response> {
  const v = new Validator({
    jwks: remoteJwks("https://issuer.example/.well-known/jwks.json"),
    issuer: "https://issuer.example",
    audience: "https://api.example",
    dpop: {
      required: false,
      maxAge: 60,
      algorithms: ["ES256", "EdDSA", "ML-DSA-65"],
      nonceSecret: new Uint8Array(32),
      replay: async (jti: string, expiresAt: number) => {
        if (replayStore.has(jti)) return false;
        replayStore.set(jti, expiresAt);
        return true;
      },
    },
  });
  try {
    const { claims } = await v.verifyRequest(request, { now: 1_700_000_000 });
    const bound: unknown = claims.cnf;
    return new Response(JSON.stringify({ sub: claims.sub, bound }));
  } catch (e) {
    if (!(e instanceof JwtEdgeError)) throw e;
    const headers: Record<string, string> = {};
    if (e.wwwAuthenticate !== undefined) headers["www-authenticate"] = e.wwwAuthenticate;
    if (e.dpopNonce !== undefined) headers["dpop-nonce"] = e.dpopNonce;
    const status: number = e.status ?? 401;
    const code: ErrorCode = e.code;
    return new Response(code, { status, headers });
  }
}

export async function tokenWithProof(v: Validator, token: string, proof: string) {
  const a = await v.verify(token, { dpop: { proof, method: "GET", url: new URL("https://api.example/x") } });
  const b = v.verifySync(token, { dpop: "unchecked" });
  // @ts-expect-error the dpop option of verifyRequest comes from the request itself
  await v.verifyRequest(new Request("https://api.example/"), { dpop: "unchecked" });
  // @ts-expect-error a proof needs the request method
  await v.verify(token, { dpop: { proof, url: "https://api.example/x" } });
  return [a.claims.jti, b.claims.jti, new Validator({ jwks: "{}", dpop: true })];
}
