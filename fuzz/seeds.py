#!/usr/bin/env python3
"""Writes the token seeds of fuzz/corpus/ (access_token, refresh_token) with the fixture keys
of fuzz/keys/, the way fuzz/src/lib.rs loads them: tokens that verify at the fixed "now" of
the targets, so the fuzzer starts past the signature check. Needs the `cryptography` package.
Run from anywhere: python3 fuzz/seeds.py"""

import base64, hashlib, hmac, json, pathlib, uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, utils

FUZZ = pathlib.Path(__file__).resolve().parent
NOW = 1_767_225_600  # fuzz/src/lib.rs NOW
ISSUER, AUDIENCE, CLIENT_ID = "https://auth.example.test", "tessera-fuzz", "tessera-fuzz"
REFRESH_KEY = b"tessera-fuzz-refresh-key-0123456"


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def thumbprint(jwk: dict) -> str:
    members = {k: jwk[k] for k in sorted(jwk)}
    return b64(hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest())


def load(name: str):
    return serialization.load_pem_private_key((FUZZ / "keys" / name).read_bytes(), None)


def keys():
    ed = load("ed25519.pem")
    raw = ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ed_jwk = {"crv": "Ed25519", "kty": "OKP", "x": b64(raw)}
    yield "EdDSA", thumbprint(ed_jwk), ed.sign, ed_jwk

    es = load("p256.pem")
    pub = es.public_key().public_numbers()
    es_jwk = {"crv": "P-256", "kty": "EC", "x": b64(pub.x.to_bytes(32, "big")),
              "y": b64(pub.y.to_bytes(32, "big"))}

    def es_sign(msg):
        r, s = utils.decode_dss_signature(es.sign(msg, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    yield "ES256", thumbprint(es_jwk), es_sign, es_jwk

    rs = load("rsa2048.pem")
    pub = rs.public_key().public_numbers()
    rs_jwk = {"e": b64(uint(pub.e)), "kty": "RSA", "n": b64(uint(pub.n))}
    yield "RS256", thumbprint(rs_jwk), lambda m: rs.sign(m, padding.PKCS1v15(), hashes.SHA256()), rs_jwk

    secret = (FUZZ / "keys" / "hs256.secret").read_text().strip()
    hs_kid = "hs-" + b64(hashlib.sha256(b"tessera/hs256-kid/v1" + secret.encode()).digest())[:22]
    key = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    yield "HS256", hs_kid, lambda m: hmac.new(key, m, hashlib.sha256).digest(), None


def token(alg, kid, sign, **extra):
    header = {"alg": alg, "typ": "at+jwt", "kid": kid}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": str(uuid.UUID(int=1)), "client_id": CLIENT_ID,
              "exp": NOW + 900, "iat": NOW, "jti": str(uuid.UUID(int=2)),
              "sid": str(uuid.UUID(int=3)), "ver": 0, "amr": ["pwd"], **extra}
    signed = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return signed + "." + b64(sign(signed.encode()))


def refresh(generation):
    user, session, secret = uuid.UUID(int=1).bytes, uuid.UUID(int=3).bytes, bytes(range(32))
    if generation is None:
        return "tsr_" + b64(user + session + secret)
    g = generation.to_bytes(4, "big")
    tag = hmac.new(REFRESH_KEY, b"tessera/refresh-generation/v1" + user + session + g + secret,
                   hashlib.sha256).digest()[:16]
    return "tsr_" + b64(user + session + g + secret + tag)


def write(target, name, text):
    d = FUZZ / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_text(text)


jwks = []
for alg, kid, sign, jwk in keys():
    if jwk:
        jwks.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
    write("access_token", alg.lower(), token(alg, kid, sign))
    if alg == "EdDSA":
        write("access_token", "eddsa-mfa-fgp", token(alg, kid, sign, amr=["pwd", "otp"],
                                                     fgp=b64(b"\x01" * 32), nbf=NOW))
        write("access_token", "eddsa-expired", token(alg, kid, sign, exp=NOW - 60))
        write("access_token", "alg-none", token("none", kid, lambda m: b""))
# An input starting with `{` is a JWKS for the guard's key set.
write("access_token", "jwks", json.dumps({"keys": jwks}))
write("refresh_token", "gen0", refresh(0))
write("refresh_token", "gen7", refresh(7))
write("refresh_token", "legacy", refresh(None))
