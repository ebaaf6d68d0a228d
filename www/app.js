// jwt-edge token inspector: everything runs here, with the npm package's
// browser entry (wasm + WebCrypto). The only network request it makes on its
// own is loading itself; a JWKS URL is fetched only when "Fetch" is pressed.
const $ = (id) => document.getElementById(id);
const loadStatus = $("load-status");

let api;
try {
  api = await import("./jwt-edge/default/browser.js");
  loadStatus.textContent = "Ready. Works offline from now on.";
} catch (e) {
  loadStatus.textContent = `Could not load the jwt-edge module: ${e.message}`;
  throw e;
}
const { Validator, inspect } = api;

const EXPLAIN = {
  ERR_JWS_INVALID: "The text is not a well-formed signed JWT: it needs three base64url parts separated by dots, with a JSON header.",
  ERR_JWT_INVALID: "The payload is not a valid JWT claims set (a JSON object whose registered claims have the right types).",
  ERR_JOSE_ALG_NOT_ALLOWED: "The token's algorithm is not accepted (for example \"none\", or an HMAC algorithm when only public keys are given).",
  ERR_JOSE_NOT_SUPPORTED: "This browser cannot check this algorithm or key type.",
  ERR_JWKS_INVALID: "The key set is not a valid JWKS: it must be JSON of the form {\"keys\": [...]} with usable public keys.",
  ERR_JWKS_NO_MATCHING_KEY: "No key in the set matches the token's kid and algorithm: the token was signed by a key this set does not contain (another issuer, or a key rotated in or out).",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "Several keys match and the token has no kid to choose between them.",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "The signature does not match: the token was changed after it was signed, or it was signed by a different key.",
  ERR_JWT_EXPIRED: "The token has expired (its exp time has passed).",
  ERR_JWT_CLAIM_VALIDATION_FAILED: "A claim check failed.",
  ERR_JWT_REVOKED: "The token has been revoked.",
  ERR_REVOCATION_LIST_INVALID: "The revocation list is not valid.",
  ERR_INVALID_OPTIONS: "The verification settings are not valid.",
};
const CLAIM_EXPLAIN = {
  iss: "the issuer (iss) is not the expected one",
  aud: "the audience (aud) does not include the expected one",
  nbf: "the token is not valid yet (nbf is in the future)",
  iat: "the issue time (iat) is in the future or too old",
  exp: "the expiry (exp) is missing or invalid",
};

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
function relative(seconds) {
  const abs = Math.abs(seconds);
  const [n, unit] =
    abs < 60 ? [seconds, "second"] : abs < 3600 ? [seconds / 60, "minute"] : abs < 86400 ? [seconds / 3600, "hour"] : abs < 86400 * 365 ? [seconds / 86400, "day"] : [seconds / (86400 * 365), "year"];
  return rtf.format(Math.round(n), unit);
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function clean(raw) {
  return raw.trim().replace(/^Bearer\s+/i, "").replace(/\s+/g, "");
}

function showSegments(token) {
  const box = $("segments");
  box.replaceChildren();
  const parts = token.split(".");
  const names = [["seg-h", "header"], ["seg-p", "payload"], ["seg-s", "signature"]];
  parts.forEach((part, i) => {
    if (i > 0) box.append(el("span", { class: "seg-dot" }, "."));
    const [cls, name] = names[i] ?? ["seg-s", "extra"];
    box.append(el("span", { class: cls, title: name }, part));
  });
  box.hidden = token === "";
  $("legend").hidden = box.hidden;
}

function update() {
  const token = clean($("token").value);
  showSegments(token);
  $("result").textContent = "";
  $("result").className = "result";
  const err = $("decode-error");
  if (token === "") {
    err.hidden = true;
    $("decoded").hidden = true;
    return;
  }
  const now = Math.floor(Date.now() / 1000);
  let r;
  try {
    r = inspect(token, { now });
  } catch (e) {
    err.textContent = `${e.code ?? "Error"}: ${EXPLAIN[e.code] ?? e.message}`;
    err.hidden = false;
    $("decoded").hidden = true;
    return;
  }
  err.hidden = true;
  $("decoded").hidden = false;
  $("header").textContent = JSON.stringify(r.header, null, 2);
  $("claims").textContent = JSON.stringify(r.claims, null, 2);
  const tbody = $("times").tBodies[0];
  tbody.replaceChildren();
  const labels = { iat: "issued (iat)", nbf: "not before (nbf)", exp: "expires (exp)", auth_time: "authenticated (auth_time)" };
  for (const [claim, label] of Object.entries(labels)) {
    const v = r.claims[claim];
    if (typeof v !== "number") continue;
    const row = el("tr", { "data-claim": claim });
    row.append(el("th", { scope: "row" }, label));
    const when = new Date(v * 1000);
    const local = el("td");
    local.append(el("time", { datetime: when.toISOString() }, when.toLocaleString()));
    row.append(local);
    const rel = v - now;
    const text = claim === "exp" ? (rel < 0 ? `expired ${relative(rel)}` : `expires ${relative(rel)}`) : relative(rel);
    row.append(el("td", claim === "exp" && rel < 0 ? { class: "past" } : {}, text));
    tbody.append(row);
  }
  if (tbody.rows.length === 0) {
    const row = el("tr");
    row.append(el("td", { colspan: "3" }, "No time claims."));
    tbody.append(row);
  }
  const ul = $("warnings");
  ul.replaceChildren();
  for (const w of r.warnings) ul.append(el("li", { "data-code": w.code }, `${w.code}: ${w.message}`));
  if (r.warnings.length === 0) ul.append(el("li", { class: "none" }, "None."));
}

function pending(text) {
  const box = $("result");
  box.className = "result pending";
  box.textContent = text;
}

function showResult(ok, code, text) {
  const box = $("result");
  box.className = `result ${ok ? "ok" : "bad"}`;
  box.replaceChildren();
  box.append(el("strong", {}, ok ? "✔ Valid" : "✘ Not valid"));
  if (code) {
    box.append(" — ");
    box.append(el("code", { id: "result-code" }, code));
  }
  if (text) box.append(el("p", {}, text));
}

async function verify(event) {
  event?.preventDefault();
  pending("Verifying…");
  const token = clean($("token").value);
  if (token === "") return showResult(false, undefined, "Paste a token first.");
  const jwks = $("jwks").value.trim();
  if (jwks === "") return showResult(false, undefined, "Paste a JWKS, or give its URL and press Fetch.");
  const options = { jwks };
  const iss = $("issuer").value.trim();
  const aud = $("audience").value.trim();
  if (iss) options.issuer = iss;
  if (aud) options.audience = aud.split(/[\s,]+/).filter(Boolean);
  try {
    const { claims } = await new Validator(options).verify(token);
    const checked = ["signature", "exp/nbf"];
    if (iss) checked.push("issuer");
    if (aud) checked.push("audience");
    showResult(true, undefined, `Checked: ${checked.join(", ")}. Subject: ${claims.sub ?? "(none)"}.`);
  } catch (e) {
    if (!e?.code) return showResult(false, "Error", String(e?.message ?? e));
    let text = EXPLAIN[e.code] ?? e.message;
    if (e.code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && e.claim) {
      text = `A claim check failed: ${CLAIM_EXPLAIN[e.claim] ?? `${e.claim} is ${e.reason === "missing" ? "missing" : "not acceptable"}`}.`;
    }
    showResult(false, e.code, `${text} (${e.message})`);
  }
}

async function fetchJwks() {
  const url = $("jwks-url").value.trim();
  if (!url) return showResult(false, undefined, "Enter the JWKS URL first.");
  pending(`Fetching ${url}…`);
  try {
    const res = await fetch(url, { headers: { accept: "application/jwk-set+json, application/json" }, credentials: "omit", referrerPolicy: "no-referrer" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const text = await res.text();
    JSON.parse(text);
    $("jwks").value = text;
    await verify();
  } catch (e) {
    showResult(false, "FETCH_FAILED", `Could not fetch the JWKS from ${url}: ${e.message}. The server must allow this page's origin (CORS); otherwise paste the JWKS.`);
  }
}

const tokenBox = $("token");
tokenBox.addEventListener("input", update);
tokenBox.addEventListener("dragover", (e) => {
  e.preventDefault();
  tokenBox.classList.add("dragover");
});
tokenBox.addEventListener("dragleave", () => tokenBox.classList.remove("dragover"));
tokenBox.addEventListener("drop", async (e) => {
  e.preventDefault();
  tokenBox.classList.remove("dragover");
  const file = e.dataTransfer.files[0];
  tokenBox.value = file ? await file.text() : e.dataTransfer.getData("text/plain");
  update();
});
$("verify-form").addEventListener("submit", verify);
$("fetch-jwks").addEventListener("click", fetchJwks);
if (tokenBox.value) update();
document.body.dataset.ready = "true";
