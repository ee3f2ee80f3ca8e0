"""A machine client that authenticates with private_key_jwt (RFC 7523), as Authlib does it.

Reads KEYHAVEN_ISSUER and ADMIN_URL / ADMIN_TOKEN (the tenant's admin API and an
administrator's token) from the environment. Makes an RSA key, registers a client with its
public half, obtains a token with an RS256 assertion Authlib signs, and verifies the token
against the JWKS with PyJWT. Prints one JSON line; exits non-zero at the first surprise.
"""

import base64
import json
import os

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def main() -> None:
    issuer = os.environ["KEYHAVEN_ISSUER"]
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"], metadata

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private_key.public_key().public_numbers()
    public_jwk = {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e), "kid": "python-1"}
    admin = {"Authorization": f"Bearer {os.environ['ADMIN_TOKEN']}"}
    created = requests.post(
        f"{os.environ['ADMIN_URL']}/clients",
        json={"name": "signed by python", "scopes": ["reports"], "jwks": {"keys": [public_jwk]}},
        headers=admin,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    client_id = created.json()["client_id"]

    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    session = OAuth2Session(client_id, pem, token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(PrivateKeyJWT(metadata["token_endpoint"]))
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials", timeout=10)

    key = jwt.PyJWKClient(metadata["jwks_uri"], timeout=10).get_signing_key_from_jwt(token["access_token"])
    claims = jwt.decode(token["access_token"], key.key, algorithms=["ES256"], audience=issuer, issuer=issuer)
    assert claims["client_id"] == client_id and claims["scope"] == "reports", claims
    print(json.dumps({"client_id": client_id, "claims": claims}))


if __name__ == "__main__":
    main()
