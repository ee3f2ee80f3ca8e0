"""A machine client as a tenant's customer writes one, with Authlib and PyJWT.

Reads KEYHAVEN_ISSUER, CLIENT_ID, CLIENT_SECRET (the client) and RESOURCE_ID /
RESOURCE_SECRET (a resource server of the same tenant) from the environment, discovers
the tenant's endpoints, obtains a token with client_secret_basic, verifies it against the
JWKS, has the resource server introspect it, revokes it, and checks it is inactive.
Prints one JSON line of what it saw; exits non-zero at the first surprise.
"""

import json
import os
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session


def main() -> None:
    issuer = os.environ["KEYHAVEN_ISSUER"]
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == issuer, metadata

    client = OAuth2Session(
        os.environ["CLIENT_ID"],
        os.environ["CLIENT_SECRET"],
        token_endpoint_auth_method="client_secret_basic",
        scope="invoices:read",
    )
    token = client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials", timeout=10)
    access_token = token["access_token"]

    jwks = jwt.PyJWKClient(metadata["jwks_uri"], timeout=10)
    key = jwks.get_signing_key_from_jwt(access_token)
    claims = jwt.decode(
        access_token,
        key.key,
        algorithms=["ES256"],
        audience=issuer,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )
    assert jwt.get_unverified_header(access_token)["typ"] == "at+jwt"
    assert claims["client_id"] == os.environ["CLIENT_ID"], claims
    assert claims["scope"] == "invoices:read", claims

    resource = OAuth2Session(os.environ["RESOURCE_ID"], os.environ["RESOURCE_SECRET"])
    active = resource.introspect_token(metadata["introspection_endpoint"], token=access_token, timeout=10).json()
    assert active["active"] is True and active["client_id"] == claims["client_id"], active

    revoked = client.revoke_token(metadata["revocation_endpoint"], token=access_token, timeout=10)
    assert revoked.status_code == 200, revoked.text
    after = resource.introspect_token(metadata["introspection_endpoint"], token=access_token, timeout=10).json()
    assert after == {"active": False}, after

    print(json.dumps({"token_type": token["token_type"], "claims": claims, "introspected": active, "after_revocation": after}))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"assertion failed: {failure}", file=sys.stderr)
        raise
