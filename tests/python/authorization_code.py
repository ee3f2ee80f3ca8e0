"""A web application that signs people in with OpenID Connect, as a tenant's customer writes
one with Authlib and PyJWT: the authorization-code flow with PKCE (S256), state and nonce.

Reads KEYHAVEN_ISSUER, CLIENT_ID, CLIENT_SECRET (optional: without it the client is public
and authenticates with `none`), REDIRECT_URI, SCOPE (default "openid"), and USERNAME /
PASSWORD (the person who signs in) from the environment. It discovers the tenant's
endpoints, makes the authorization URL, walks the hosted sign-in pages as a browser would
(a cookie-keeping requests.Session; forms read with the standard library's html.parser),
takes the code from the redirect to REDIRECT_URI (nothing listens there), checks its
`state` and `iss`, exchanges the code with the PKCE verifier, verifies the ID token
against the JWKS (alg from discovery, aud, iss, nonce, at_hash), calls userinfo, refreshes
once and checks that the spent refresh token is refused (invalid_grant) when presented
again. Prints one JSON line of what it saw; exits non-zero at the first surprise.
"""

import base64
import hashlib
import json
import os
import secrets
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

TIMEOUT = 10
# The hash function of `at_hash` for each signing algorithm (OpenID Connect Core §3.1.3.6).
AT_HASH = {"ES256": hashlib.sha256, "RS256": hashlib.sha256, "PS256": hashlib.sha256, "EdDSA": hashlib.sha512}


class Forms(HTMLParser):
    """The forms of a page: id -> {"action", "method", "fields": {name: value}}."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict] = {}
        self.current: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.current = {
                "action": attributes.get("action", ""),
                "method": (attributes.get("method") or "get").lower(),
                "fields": {},
            }
            self.forms[attributes.get("id", f"form-{len(self.forms)}")] = self.current
        elif tag == "input" and self.current is not None and attributes.get("name"):
            kind = (attributes.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            if kind in ("submit", "button"):
                return
            self.current["fields"][attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None


def forms_of(html: str) -> dict[str, dict]:
    parser = Forms()
    parser.feed(html)
    parser.close()
    return parser.forms


def sign_in(authorization_url: str, redirect_uri: str, username: str, password: str) -> tuple[str, list[str]]:
    """Walks the hosted pages from `authorization_url`; the redirect back to the client and
    the ids of the forms submitted on the way."""
    browser = requests.Session()
    service = urlsplit(authorization_url).netloc
    submitted: list[str] = []
    response = browser.get(authorization_url, allow_redirects=False, timeout=TIMEOUT)
    for _ in range(20):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(redirect_uri):
                return location, submitted
            assert urlsplit(location).netloc == service, f"a redirect off the service: {location}"
            response = browser.get(location, allow_redirects=False, timeout=TIMEOUT)
            continue
        assert response.status_code == 200, f"{response.status_code} at {response.url}: {response.text}"
        forms = forms_of(response.text)
        if "identify" in forms:
            form, typed = "identify", {"username": username}
        elif "password-form" in forms:
            assert "password-form" not in submitted, f"the password was refused: {response.text}"
            form, typed = "password-form", {"password": password}
        elif "legal" in forms:
            form, typed = "legal", {}
        elif "consent" in forms:
            form, typed = "consent", {}
        else:
            raise AssertionError(f"a page with no form this client knows ({list(forms)}): {response.text}")
        fields = dict(forms[form]["fields"])
        assert fields.get("csrf") and fields.get("request"), f"form {form} lacks its hidden fields: {fields}"
        assert forms[form]["method"] == "post", forms[form]
        fields.update(typed)
        submitted.append(form)
        action = urljoin(response.url, forms[form]["action"])
        assert urlsplit(action).netloc == service, f"a form posting off the service: {action}"
        response = browser.post(action, data=fields, allow_redirects=False, timeout=TIMEOUT)
        assert response.is_redirect or response.status_code == 200, f"{form}: {response.status_code} {response.text}"
    raise AssertionError("no redirect back to the client after 20 steps")


def at_hash(access_token: str, alg: str) -> str:
    digest = AT_HASH[alg](access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def main() -> None:
    issuer = os.environ["KEYHAVEN_ISSUER"]
    client_id = os.environ["CLIENT_ID"]
    client_secret = os.environ.get("CLIENT_SECRET") or None
    redirect_uri = os.environ["REDIRECT_URI"]
    scope = os.environ.get("SCOPE", "openid")

    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    assert metadata["issuer"] == issuer, metadata
    assert "S256" in metadata["code_challenge_methods_supported"], metadata
    assert metadata["authorization_response_iss_parameter_supported"] is True, metadata
    auth_method = "client_secret_basic" if client_secret else "none"
    assert auth_method in metadata["token_endpoint_auth_methods_supported"], metadata
    algorithms = metadata["id_token_signing_alg_values_supported"]

    client = OAuth2Session(
        client_id,
        client_secret,
        scope=scope,
        redirect_uri=redirect_uri,
        token_endpoint_auth_method=auth_method,
        code_challenge_method="S256",
    )
    code_verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    sent = parse_qs(urlsplit(url).query)
    assert sent["code_challenge_method"] == ["S256"] and sent["state"] == [state] and sent["nonce"] == [nonce], url

    callback, submitted = sign_in(url, redirect_uri, os.environ["USERNAME"], os.environ["PASSWORD"])
    returned = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert "error" not in returned, returned
    assert returned.get("state") == state, f"state: sent {state}, got {returned}"
    assert returned.get("iss") == issuer, f"iss (RFC 9207): expected {issuer}, got {returned}"

    token = client.fetch_token(
        metadata["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=code_verifier,
        timeout=TIMEOUT,
    )
    assert token["token_type"].lower() == "bearer", token
    access_token, id_token = token["access_token"], token["id_token"]
    assert set(token["scope"].split()) == set(scope.split()), token

    # The ID token, verified as a relying party must: signature against the JWKS with an
    # algorithm the server announced, then iss, aud, nonce, at_hash.
    header = jwt.get_unverified_header(id_token)
    assert header["alg"] in algorithms, f"ID token alg {header['alg']} not in {algorithms}"
    key = jwt.PyJWKClient(metadata["jwks_uri"], timeout=TIMEOUT).get_signing_key_from_jwt(id_token)
    claims = jwt.decode(
        id_token,
        key.key,
        algorithms=algorithms,
        audience=client_id,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce", "auth_time"]},
    )
    assert claims["nonce"] == nonce, f"nonce: sent {nonce}, got {claims}"
    computed_at_hash = at_hash(access_token, header["alg"])
    assert claims["at_hash"] == computed_at_hash, f"at_hash {claims['at_hash']} != {computed_at_hash}"
    assert claims.get("azp", client_id) == client_id, claims
    # The access token too, as a resource server of this tenant would (RFC 9068).
    assert jwt.get_unverified_header(access_token)["typ"].lower() == "at+jwt"
    access_key = jwt.PyJWKClient(metadata["jwks_uri"], timeout=TIMEOUT).get_signing_key_from_jwt(access_token)
    access_claims = jwt.decode(
        access_token,
        access_key.key,
        algorithms=algorithms,
        audience=issuer,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "client_id"]},
    )
    assert access_claims["sub"] == claims["sub"] and access_claims["client_id"] == client_id, access_claims

    # userinfo with the access token (OAuth2Session sends it as a Bearer token).
    userinfo_response = client.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
    assert userinfo_response.status_code == 200, userinfo_response.text
    userinfo = userinfo_response.json()
    assert userinfo["sub"] == claims["sub"], (userinfo, claims)

    # One refresh: a new refresh token; the spent one, presented again, is refused.
    spent = token["refresh_token"]
    refreshed = client.refresh_token(metadata["token_endpoint"], refresh_token=spent, timeout=TIMEOUT)
    assert refreshed["refresh_token"] != spent, "the refresh token did not rotate"
    refreshed_claims = jwt.decode(
        refreshed["id_token"], key.key, algorithms=algorithms, audience=client_id, issuer=issuer
    ) if "id_token" in refreshed else None
    reuse_error = None
    try:
        client.refresh_token(metadata["token_endpoint"], refresh_token=spent, timeout=TIMEOUT)
    except OAuthError as refused:
        reuse_error = refused.error
    assert reuse_error == "invalid_grant", f"a spent refresh token was answered {reuse_error!r}"

    print(
        json.dumps(
            {
                "submitted": submitted,
                "callback": {k: v for k, v in returned.items() if k != "code"},
                "state_matched": returned["state"] == state,
                "token_type": token["token_type"],
                "scope": token["scope"],
                "id_token_alg": header["alg"],
                "claims": claims,
                "nonce_matched": claims["nonce"] == nonce,
                "at_hash_matched": claims["at_hash"] == computed_at_hash,
                "access_claims": access_claims,
                "userinfo": userinfo,
                "refresh_rotated": refreshed["refresh_token"] != spent,
                "refreshed_claims": refreshed_claims,
                "reuse_error": reuse_error,
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"assertion failed: {failure}", file=sys.stderr)
        raise
