"""A Python DPoP client (RFC 9449) against `jwt-edge serve`: proofs built with
joserfc (Authlib has no DPoP client for the client-credentials grant), HTTP
with requests. It obtains a bound token (retrying once on use_dpop_nonce with
the server's DPoP-Nonce), checks the answer, then prints a proof for a
resource request so that the Rust test checks it with the Validator.

Usage (tests/server_dpop.rs runs it):
  python tests/interop/dpop_client.py HTU POST_URL KEY RESOURCE_URL
HTU is the token endpoint's public URL (the proofs' htu); POST_URL where it
is reached (loopback).
Prints one JSON line: {"ok": true, "token": ..., "jkt": ..., "resource_proof": ...}
or {"ok": false, "error": ...}; exits 0 either way once it ran.
"""

import base64
import hashlib
import json
import sys
import time
import uuid

import requests
from joserfc import jwt
from joserfc.jwk import ECKey


def proof(key, method, url, token=None, nonce=None):
    claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
    if token is not None:
        digest = hashlib.sha256(token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if nonce is not None:
        claims["nonce"] = nonce
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key)


def main():
    token_url, post_url, full_key, resource_url = sys.argv[1:5]
    _, client_id, secret = full_key.split("_", 2)
    key = ECKey.generate_key("P-256")
    form = {"grant_type": "client_credentials", "scope": "read"}
    nonce = None
    for _ in range(2):
        r = requests.post(
            post_url,
            data=form,
            auth=(client_id, secret),
            headers={"DPoP": proof(key, "POST", token_url, nonce=nonce)},
            timeout=10,
        )
        body = r.json()
        if r.status_code == 400 and body.get("error") == "use_dpop_nonce" and nonce is None:
            nonce = r.headers.get("DPoP-Nonce")
            continue
        break
    if r.status_code != 200:
        print(json.dumps({"ok": False, "error": f"{r.status_code} {body}"}))
        return
    token = body["access_token"]
    print(
        json.dumps(
            {
                "ok": body.get("token_type") == "DPoP",
                "token_type": body.get("token_type"),
                "token": token,
                "jkt": key.thumbprint(),
                "resource_proof": proof(key, "GET", resource_url, token=token),
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # reported, not raised: the Rust test prints it
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
