"""Key pairs of `private_key_jwt` test clients (tests/server_clients.rs).

Usage: target/pyenv/bin/python tests/interop/client_keys.py DIR

Writes DIR/es256.pem, DIR/ed25519.pem, DIR/ps256.pem and DIR/uri-1.pem
(PKCS#8 private keys, read by the client scripts) and the public sets the
issuer is given: DIR/jwks.json (kids es, ed, ps; the client registered
with an inline set) and DIR/uri-jwks.json (kid uri-1; served as the other
client's jwks_uri, where clients.py later adds a key of its own).
"""

import json
import pathlib
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc.jwk import ECKey, OKPKey, RSAKey

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)


def write(name, private, kind, kid, alg):
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (out / f"{name}.pem").write_bytes(pem)
    jwk = kind.import_key(pem).as_dict(private=False)
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


keys = [
    write("es256", ec.generate_private_key(ec.SECP256R1()), ECKey, "es", "ES256"),
    write("ed25519", ed25519.Ed25519PrivateKey.generate(), OKPKey, "ed", "EdDSA"),
    write("ps256", rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAKey, "ps", "PS256"),
]
(out / "jwks.json").write_text(json.dumps({"keys": keys}))
uri = [write("uri-1", ec.generate_private_key(ec.SECP256R1()), ECKey, "uri-1", "ES256")]
(out / "uri-jwks.json").write_text(json.dumps({"keys": uri}))
