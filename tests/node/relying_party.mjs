// A strict OpenID Connect relying party, as a tenant's customer writes one with
// oauth4webapi: the authorization-code flow with PKCE (S256), state and nonce.
//
// Reads KEYHAVEN_ISSUER, CLIENT_ID, CLIENT_SECRET (optional: without it the client is
// public and authenticates with `none`), REDIRECT_URI, SCOPE (default "openid"), and
// USERNAME / PASSWORD (the person who signs in) from the environment. It discovers the
// tenant, makes the authorization URL, walks the hosted sign-in pages with fetch and a
// cookie jar of its own, takes the code from the redirect to REDIRECT_URI (nothing listens
// there), has oauth4webapi validate the authorization response (state, iss) and the token
// response (ID token alg, iss, aud, nonce, azp, exp), verifies the ID token's signature
// against the JWKS and its at_hash, calls userinfo, refreshes once and checks that the
// spent refresh token is refused (invalid_grant) when presented again. Prints one JSON line
// of what it saw; exits non-zero at the first surprise.

import { createHash } from "node:crypto";
import * as oauth from "oauth4webapi";
import { check, required, run } from "./harness.mjs";

const TIMEOUT_MS = 10_000;
// The test server speaks plain HTTP on the loopback interface; every request has a timeout.
const options = { [oauth.allowInsecureRequests]: true, signal: () => AbortSignal.timeout(TIMEOUT_MS) };

// --- a minimal browser: cookies by name, forms read from the HTML, no automatic redirects ---

const ENTITIES = { "&amp;": "&", "&quot;": '"', "&#39;": "'", "&lt;": "<", "&gt;": ">" };
const unescape = (text) => text.replace(/&(?:amp|quot|#39|lt|gt);/g, (entity) => ENTITIES[entity]);

function attributes(tag) {
  const found = {};
  for (const match of tag.matchAll(/([A-Za-z_][\w-]*)(?:\s*=\s*"([^"]*)")?/g)) {
    found[match[1].toLowerCase()] = match[2] === undefined ? "" : unescape(match[2]);
  }
  return found;
}

/** The forms of a page: id -> { action, method, fields }. */
function formsOf(html) {
  const forms = {};
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const form = attributes(match[1]);
    const fields = {};
    for (const input of match[2].matchAll(/<input\b([^>]*)>/gi)) {
      const field = attributes(input[1]);
      const type = (field.type || "text").toLowerCase();
      if (!field.name || type === "submit" || type === "button") continue;
      if ((type === "checkbox" || type === "radio") && !("checked" in field)) continue;
      fields[field.name] = field.value ?? "";
    }
    forms[form.id ?? `form-${Object.keys(forms).length}`] = {
      action: form.action ?? "",
      method: (form.method || "get").toLowerCase(),
      fields,
    };
  }
  return forms;
}

class Browser {
  constructor() {
    this.cookies = new Map();
  }

  async request(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    }
    const response = await fetch(url, {
      ...init,
      headers,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair, ...rest] = cookie.split(";");
      const at = pair.indexOf("=");
      check(at > 0, `a Set-Cookie without a name: ${cookie}`);
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const expired = rest.some((attribute) => /^\s*max-age\s*=\s*0\s*$/i.test(attribute));
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: response.status, location: response.headers.get("location"), url, html: await response.text() };
  }
}

/** Walks the hosted pages from `start`; the redirect back to the client and the forms submitted. */
async function signIn(start, redirectUri, username, password) {
  const browser = new Browser();
  const service = new URL(start).origin;
  const submitted = [];
  let page = await browser.request(start);
  for (let step = 0; step < 20; step++) {
    if (page.status >= 300 && page.status < 400) {
      check(page.location, `a ${page.status} without a Location at ${page.url}`);
      const location = new URL(page.location, page.url).href;
      if (location.startsWith(redirectUri)) return { callback: new URL(location), submitted };
      check(new URL(location).origin === service, `a redirect off the service: ${location}`);
      page = await browser.request(location);
      continue;
    }
    check(page.status === 200, `${page.status} at ${page.url}: ${page.html}`);
    const forms = formsOf(page.html);
    let id;
    let typed = {};
    if ("identify" in forms) [id, typed] = ["identify", { username }];
    else if ("password-form" in forms) {
      check(!submitted.includes("password-form"), `the password was refused: ${page.html}`);
      [id, typed] = ["password-form", { password }];
    } else if ("legal" in forms) id = "legal";
    else if ("consent" in forms) id = "consent";
    else throw new Error(`a page with no form this client knows (${Object.keys(forms)}): ${page.html}`);
    const form = forms[id];
    check(form.method === "post", `form ${id} is not a POST form`);
    check(form.fields.csrf && form.fields.request, `form ${id} lacks its hidden fields: ${JSON.stringify(form.fields)}`);
    const action = new URL(form.action, page.url);
    check(action.origin === service, `form ${id} posts off the service: ${action}`);
    submitted.push(id);
    page = await browser.request(action.href, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...form.fields, ...typed }).toString(),
    });
    check(page.status === 200 || (page.status >= 300 && page.status < 400), `${id}: ${page.status} ${page.html}`);
  }
  throw new Error("no redirect back to the client after 20 steps");
}

function atHash(accessToken, alg) {
  const hash = { ES256: "sha256", RS256: "sha256", PS256: "sha256", EdDSA: "sha512" }[alg];
  check(hash, `no at_hash function for alg ${alg}`);
  const digest = createHash(hash).update(accessToken, "ascii").digest();
  return digest.subarray(0, digest.length / 2).toString("base64url");
}

function header(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[0], "base64url").toString("utf8"));
}

async function main() {
  const issuer = new URL(required("KEYHAVEN_ISSUER"));
  const clientId = required("CLIENT_ID");
  const clientSecret = process.env.CLIENT_SECRET || undefined;
  const redirectUri = required("REDIRECT_URI");
  const scope = process.env.SCOPE || "openid";

  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: "oidc" }));
  check(as.code_challenge_methods_supported?.includes("S256"), "S256 PKCE is not announced");
  check(as.authorization_response_iss_parameter_supported === true, "RFC 9207 iss is not announced");
  const client = { client_id: clientId };
  const clientAuth = clientSecret ? oauth.ClientSecretBasic(clientSecret) : oauth.None();
  check(
    as.token_endpoint_auth_methods_supported?.includes(clientSecret ? "client_secret_basic" : "none"),
    "the client's authentication method is not announced",
  );

  const codeVerifier = oauth.generateRandomCodeVerifier();
  const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const authorizationUrl = new URL(as.authorization_endpoint);
  for (const [name, value] of Object.entries({
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: "code",
    scope,
    state,
    nonce,
    code_challenge: codeChallenge,
    code_challenge_method: "S256",
  })) {
    authorizationUrl.searchParams.set(name, value);
  }

  const { callback, submitted } = await signIn(authorizationUrl.href, redirectUri, required("USERNAME"), required("PASSWORD"));
  // Throws on an error response, a state that is not ours, or a missing or wrong iss.
  const params = oauth.validateAuthResponse(as, client, callback, state);

  const codeResponse = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, codeVerifier, options);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, codeResponse, { expectedNonce: nonce, requireIdToken: true });
  // oauth4webapi checks the ID token's claims and alg but, for a token that came straight
  // from the token endpoint, not its signature: verify that against the JWKS too.
  await oauth.validateApplicationLevelSignature(as, codeResponse, options);
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  check(claims, "no ID token claims");
  check(claims.nonce === nonce, "nonce");
  const alg = header(tokens.id_token).alg;
  check(as.id_token_signing_alg_values_supported.includes(alg), `ID token alg ${alg} was not announced`);
  const computedAtHash = atHash(tokens.access_token, alg);
  check(claims.at_hash === computedAtHash, `at_hash ${claims.at_hash} != ${computedAtHash}`);
  check(tokens.token_type === "bearer", `token_type ${tokens.token_type}`);

  const userinfo = await oauth.processUserInfoResponse(
    as,
    client,
    claims.sub,
    await oauth.userInfoRequest(as, client, tokens.access_token, options),
  );

  const spent = tokens.refresh_token;
  check(typeof spent === "string", "no refresh token");
  const refreshResponse = await oauth.refreshTokenGrantRequest(as, client, clientAuth, spent, options);
  const refreshed = await oauth.processRefreshTokenResponse(as, client, refreshResponse);
  check(typeof refreshed.refresh_token === "string" && refreshed.refresh_token !== spent, "the refresh token did not rotate");
  const refreshedClaims = oauth.getValidatedIdTokenClaims(refreshed);
  if (refreshedClaims) {
    await oauth.validateApplicationLevelSignature(as, refreshResponse, options);
    check(refreshedClaims.sub === claims.sub, "a refreshed ID token for someone else");
  }

  let reuseError;
  try {
    await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, clientAuth, spent, options));
  } catch (refused) {
    if (!(refused instanceof oauth.ResponseBodyError)) throw refused;
    reuseError = refused.error;
  }
  check(reuseError === "invalid_grant", `a spent refresh token was answered ${reuseError}`);

  const returned = Object.fromEntries([...callback.searchParams].filter(([name]) => name !== "code"));
  console.log(
    JSON.stringify({
      submitted,
      callback: returned,
      state_matched: returned.state === state,
      token_type: tokens.token_type,
      scope: tokens.scope,
      id_token_alg: alg,
      claims,
      nonce_matched: claims.nonce === nonce,
      at_hash_matched: claims.at_hash === computedAtHash,
      userinfo,
      refresh_rotated: refreshed.refresh_token !== spent,
      refreshed_claims: refreshedClaims ?? null,
      reuse_error: reuseError,
    }),
  );
}

await run("relying_party.mjs", main);
