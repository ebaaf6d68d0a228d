"""Python OAuth/JOSE client libraries against a running `jwt-edge serve`.

Usage (tests/server_clients.rs runs it with the venv's python):
  target/pyenv/bin/python tests/interop/clients.py BASE --key KEY \
      --introspect-key KEY --revoked-jti JTI [--audience A] [--resource R] [--bad-resource R]

BASE is the server's URL, which is also the issuer. KEY is a provisioning key
(jep_<16 hex id>_<43-char secret>) allowed the audiences A and R; the
introspect key has the `introspect` permission. JTI is a token revoked
through the CLI, which the signed revocation list must carry.

Each check prints one JSON line {"lib", "check", "ok", ...details} and runs
on its own: a failure is reported and the next check still runs. Library
helpers are used with their default settings. Exits 0 once every check ran.
"""

import argparse
import base64
import json
import re
import sys
import time

import jwt  # PyJWT
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

TIMEOUT = 10  # seconds, every HTTP request
ALGS = ["ES256"]  # the store's signing algorithm (`jwt-edge init` default)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("base")
parser.add_argument("--key", required=True)
parser.add_argument("--introspect-key", required=True)
parser.add_argument("--revoked-jti", required=True)
parser.add_argument("--audience", default="https://api.test")
parser.add_argument("--resource", default="https://b.test")
parser.add_argument("--bad-resource", default="https://other.test")
# private_key_jwt (RFC 7523): a client registered with an inline JWKS whose
# private keys are in DIR (tests/interop/client_keys.py), and one registered
# with a jwks_uri whose served set is the file FILE.
parser.add_argument("--jwt-client")
parser.add_argument("--jwt-keys")
parser.add_argument("--uri-client")
parser.add_argument("--uri-jwks")
args = parser.parse_args()

BASE = args.base.rstrip("/")
ISS = BASE


def split_key(key):
    """A provisioning key's (client_id, client_secret)."""
    m = re.fullmatch(r"jep_([0-9a-f]{16})_([A-Za-z0-9_-]{43})", key)
    if not m:
        sys.exit(f"not a provisioning key: {key[:8]}...")
    return m.group(1), m.group(2)


OWNER_ID, OWNER_SECRET = split_key(args.key)
INTRO_ID, INTRO_SECRET = split_key(args.introspect_key)


def emit(lib, check, ok, **details):
    print(json.dumps({"lib": lib, "check": check, "ok": ok, **details}), flush=True)


def check(lib, name):
    """Runs the decorated function now as one check; it passes unless it raises."""

    def run(fn):
        try:
            emit(lib, name, True, **(fn() or {}))
        except Exception as e:  # noqa: BLE001 - every failure is a result
            details = {"error": f"{type(e).__name__}: {e}"}
            if getattr(e, "error", None):  # authlib's OAuthError
                details["error_code"] = e.error
            emit(lib, name, False, **details)

    return run


def claims_unverified(token):
    """The payload of a compact JWS, NOT verified (only to pick what to verify)."""
    seg = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def listed_jtis(payload):
    """The jti values of a revocation list payload ({"revoked": {"jti": [{"jti", "exp"}]}})."""
    try:
        return {e["jti"] for e in payload["revoked"]["jti"]}
    except (KeyError, TypeError):
        return set()


# --- discovery (RFC 8414); later checks fall back to the default paths -------

META, META_ERROR = {}, None
try:
    r = requests.get(f"{BASE}/.well-known/oauth-authorization-server", timeout=TIMEOUT)
    r.raise_for_status()
    META = r.json()
except Exception as e:  # noqa: BLE001 - reported by the metadata check
    META_ERROR = e


def endpoint(name, path):
    return META.get(name) or BASE + path


TOKEN = endpoint("token_endpoint", "/token")
JWKS_URI = endpoint("jwks_uri", "/.well-known/jwks.json")
REVOKE = endpoint("revocation_endpoint", "/revoke")
INTROSPECT = endpoint("introspection_endpoint", "/introspect")
REVOCATIONS = endpoint("revocation_list_uri", "/revocations")

jwks_client = jwt.PyJWKClient(JWKS_URI, timeout=TIMEOUT)
state = {}


def session(client_id, secret, method="client_secret_basic"):
    """An authlib OAuth2Session configured from the discovered token endpoint."""
    return OAuth2Session(
        client_id,
        secret,
        token_endpoint_auth_method=method,
        token_endpoint=TOKEN,
        default_timeout=TIMEOUT,
    )


def fetch(method="client_secret_basic", **params):
    return session(OWNER_ID, OWNER_SECRET, method).fetch_token(grant_type="client_credentials", **params)


def verify(token, audience):
    """PyJWT: the key from the remote JWKS, then signature, exp, nbf, iat, aud, iss."""
    key = jwks_client.get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=ALGS, audience=audience, issuer=ISS)


@check("authlib", "metadata")
def _():
    if not META:
        raise AssertionError(f"no metadata: {META_ERROR}")
    assert META["issuer"] == ISS, f"issuer {META['issuer']!r} != {ISS!r}"
    for k in ("token_endpoint", "jwks_uri"):
        assert META.get(k), f"{k} missing"
    assert "client_credentials" in META.get("grant_types_supported", []), "grant_types_supported"
    methods = set(META.get("token_endpoint_auth_methods_supported", []))
    assert {"client_secret_basic", "client_secret_post"} <= methods, f"auth methods {methods}"
    return {"keys": sorted(META)}


@check("authlib", "metadata_revocation_introspection")
def _():
    missing = [k for k in ("revocation_endpoint", "introspection_endpoint") if not META.get(k)]
    assert not missing, f"missing {missing}"
    return {"revocation_endpoint": REVOKE, "introspection_endpoint": INTROSPECT}


@check("authlib", "metadata_validate")
def _():
    # authlib's own RFC 8414 validation of every field (loopback http counts as secure).
    AuthorizationServerMetadata(META).validate()


@check("authlib", "token_client_secret_basic")
def _():
    token = fetch("client_secret_basic")
    assert token["token_type"].lower() == "bearer", token["token_type"]
    assert token["access_token"], "no access_token"
    state["token"] = token["access_token"]
    return {"expires_in": token.get("expires_in"), "scope": token.get("scope")}


@check("authlib", "token_client_secret_post")
def _():
    token = fetch("client_secret_post")
    assert token["token_type"].lower() == "bearer", token["token_type"]
    assert token["access_token"], "no access_token"
    return {"expires_in": token.get("expires_in"), "scope": token.get("scope")}


@check("authlib", "token_wrong_secret")
def _():
    try:
        session(OWNER_ID, "x" * 43, "client_secret_post").fetch_token(grant_type="client_credentials")
    except Exception as e:  # noqa: BLE001
        assert getattr(e, "error", None) == "invalid_client", f"{type(e).__name__}: {e}"
        return {"oauth_error": e.error}
    raise AssertionError("a wrong secret obtained a token")


def key_session(client_id, pem_path, alg, kid):
    """authlib's documented private_key_jwt set-up: the client's private key
    (a joserfc key: authlib reads a PEM string as RSA only) as the client
    secret, PrivateKeyJWT registered for the token endpoint. Its assertion's
    aud is the token endpoint URL (the server accepts it with
    --accept-token-endpoint-audience); its default lifetime is an hour, over
    the server's 5-minute cap, so `exp` is given as an extra claim."""
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    with open(pem_path) as f:
        pem = f.read()
    kind = {"ES256": ECKey, "EdDSA": OKPKey, "PS256": RSAKey}[alg]
    s = OAuth2Session(
        client_id,
        kind.import_key(pem),
        token_endpoint_auth_method="private_key_jwt",
        token_endpoint=TOKEN,
        default_timeout=TIMEOUT,
    )
    claims = {"exp": int(time.time()) + 60}
    s.register_client_auth_method(PrivateKeyJWT(TOKEN, alg=alg, headers={"kid": kid}, claims=claims))
    return s


def key_token(client_id, pem_path, alg, kid):
    token = key_session(client_id, pem_path, alg, kid).fetch_token(grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer", token["token_type"]
    claims = verify(token["access_token"], args.audience)
    assert claims["client_id"] == client_id, claims["client_id"]
    return {"alg": alg, "client_id": claims["client_id"]}


if args.jwt_client:
    for alg, name, kid in [("ES256", "es256", "es"), ("EdDSA", "ed25519", "ed"), ("PS256", "ps256", "ps")]:

        @check("authlib", f"token_private_key_jwt_{alg.lower()}")
        def _():
            return key_token(args.jwt_client, f"{args.jwt_keys}/{name}.pem", alg, kid)

    @check("authlib", "token_private_key_jwt_wrong_key")
    def _():
        # The uri client's key, presented as the inline client's: refused.
        try:
            key_token(args.jwt_client, f"{args.jwt_keys}/uri-1.pem", "ES256", "es")
        except Exception as e:  # noqa: BLE001
            assert getattr(e, "error", None) == "invalid_client", f"{type(e).__name__}: {e}"
            return {"oauth_error": e.error}
        raise AssertionError("another client's key obtained a token")

if args.uri_client:

    @check("authlib", "token_private_key_jwt_jwks_uri")
    def _():
        return key_token(args.uri_client, f"{args.jwt_keys}/uri-1.pem", "ES256", "uri-1")

    @check("authlib", "token_private_key_jwt_client_rotation")
    def _():
        # The client rotates on its own: a new key added to its jwks_uri
        # signs at once, with no step at the issuer.
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from joserfc.jwk import ECKey

        new = ec.generate_private_key(ec.SECP256R1())
        pem = new.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = f"{args.jwt_keys}/uri-2.pem"
        with open(path, "wb") as f:
            f.write(pem)
        jwk = ECKey.import_key(pem).as_dict(private=False)
        jwk.update({"kid": "uri-2", "alg": "ES256"})
        with open(args.uri_jwks) as f:
            served = json.load(f)
        served["keys"].append(jwk)
        with open(args.uri_jwks, "w") as f:
            json.dump(served, f)
        return key_token(args.uri_client, path, "ES256", "uri-2")


@check("pyjwt", "verify_token")
def _():
    token = state.get("token") or fetch()["access_token"]
    claims = verify(token, args.audience)
    typ = jwt.get_unverified_header(token).get("typ")
    assert typ == "at+jwt", f"typ {typ!r}"
    return {"sub": claims["sub"], "aud": claims["aud"]}


# --- RFC 7662 introspection and RFC 7009 revocation -------------------------

introspector = session(INTRO_ID, INTRO_SECRET)
owner = session(OWNER_ID, OWNER_SECRET)


def introspect(token):
    r = introspector.introspect_token(INTROSPECT, token=token)
    assert r.status_code == 200, f"HTTP {r.status_code}: {r.text[:200]}"
    body = r.json()
    assert isinstance(body.get("active"), bool), f"no boolean active: {body}"
    return body


@check("authlib", "introspect_active")
def _():
    token = fetch()["access_token"]
    state["to_revoke"] = token
    body = introspect(token)
    assert body["active"] is True, body
    expected = claims_unverified(token)
    assert body.get("client_id") == OWNER_ID, f"client_id {body.get('client_id')!r}"
    assert body.get("scope") == expected["scope"], f"scope {body.get('scope')!r}"
    assert body.get("exp") == expected["exp"], f"exp {body.get('exp')!r}"
    return {"keys": sorted(body)}


@check("authlib", "revoke")
def _():
    token = state.get("to_revoke") or fetch()["access_token"]
    r = owner.revoke_token(REVOKE, token=token)
    assert r.status_code == 200, f"HTTP {r.status_code}: {r.text[:200]}"
    state["revoked"] = token


@check("authlib", "introspect_revoked")
def _():
    assert "revoked" in state, "no token was revoked (see the revoke check)"
    body = introspect(state["revoked"])
    assert body["active"] is False, body
    return {"keys": sorted(body)}


@check("authlib", "introspect_garbage")
def _():
    body = introspect("not-a-token")
    assert body["active"] is False, body


# --- RFC 8707 resource indicators --------------------------------------------


@check("authlib", "resource")
def _():
    token = fetch(resource=args.resource)["access_token"]
    claims = verify(token, args.resource)
    assert claims["aud"] in (args.resource, [args.resource]), f"aud {claims['aud']!r}"
    return {"aud": claims["aud"]}


@check("authlib", "resource_invalid_target")
def _():
    try:
        fetch(resource=args.bad_resource)
    except Exception as e:  # noqa: BLE001
        assert getattr(e, "error", None) == "invalid_target", f"{type(e).__name__}: {e}"
        return {"oauth_error": e.error}
    raise AssertionError(f"a token for {args.bad_resource} was issued")


# --- the signed revocation list ----------------------------------------------

# The CLI's revocation shows up within the server's refresh interval; the
# RFC 7009 one at once. Wait (bounded) until both are listed, then verify.
wanted = {args.revoked_jti}
if "revoked" in state:
    wanted.add(claims_unverified(state["revoked"])["jti"])
LIST = ""
deadline = time.monotonic() + 5
while True:
    try:
        LIST = requests.get(REVOCATIONS, timeout=TIMEOUT).text.strip()
        if wanted <= listed_jtis(claims_unverified(LIST)):
            break
    except Exception:  # noqa: BLE001 - the checks below report it
        pass
    if time.monotonic() > deadline:
        break
    time.sleep(0.2)


def require_listed(payload, header, jti):
    assert header.get("typ") == "revocation-list+jwt", f"typ {header.get('typ')!r}"
    assert payload.get("iss") == ISS, f"iss {payload.get('iss')!r}"
    assert isinstance(payload.get("epoch"), int), "epoch"
    entries = [e for e in payload["revoked"]["jti"] if e.get("jti") == jti]
    assert entries, f"jti {jti} not in revoked.jti"
    assert isinstance(entries[0].get("exp"), int), f"entry {entries[0]}"
    return {"epoch": payload["epoch"], "listed": len(payload["revoked"]["jti"])}


@check("pyjwt", "revocation_list")
def _():
    key = jwks_client.get_signing_key_from_jwt(LIST)
    payload = jwt.decode(LIST, key, algorithms=ALGS)
    return require_listed(payload, jwt.get_unverified_header(LIST), args.revoked_jti)


@check("joserfc", "revocation_list")
def _():
    keys = KeySet.import_key_set(requests.get(JWKS_URI, timeout=TIMEOUT).json())
    token = joserfc_jwt.decode(LIST, keys)
    JWTClaimsRegistry(iss={"essential": True, "value": ISS}).validate(token.claims)
    return require_listed(token.claims, token.header, args.revoked_jti)


@check("jwcrypto", "revocation_list")
def _():
    keys = jwcrypto_jwk.JWKSet.from_json(requests.get(JWKS_URI, timeout=TIMEOUT).text)
    token = jwcrypto_jwt.JWT(jwt=LIST, key=keys)
    header = json.loads(token.header)
    return require_listed(json.loads(token.claims), header, args.revoked_jti)


@check("pyjwt", "revocation_list_rfc7009")
def _():
    assert "revoked" in state, "no token was revoked (see the revoke check)"
    key = jwks_client.get_signing_key_from_jwt(LIST)
    payload = jwt.decode(LIST, key, algorithms=ALGS, issuer=ISS)
    jti = claims_unverified(state["revoked"])["jti"]
    return require_listed(payload, jwt.get_unverified_header(LIST), jti)
