// A Cognito pre-token-generation (V2) Lambda handler, ported to Keyhaven: see README.md for
// the original side by side. It refuses banned users, gives the ID token the user's
// department, gives the access token the user's roles (a comma-separated attribute, as
// Cognito custom attributes are strings), adds the `reports:read` scope for premium
// users and removes `profile:write` from suspended-for-review ones.

// @ts-check
/** @typedef {import("@keyhaven/extension").TokenIssuanceEvent} TokenIssuanceEvent */
/** @typedef {import("@keyhaven/extension").TokenIssuanceApi} TokenIssuanceApi */

/** @param {TokenIssuanceEvent} event @param {TokenIssuanceApi} api */
export async function onTokenIssuance(event, api) {
  const attributes = event.subject.attributes;
  if (attributes.status === "banned") {
    api.access.deny("this account is banned");
    return;
  }
  const roles = String(attributes.roles ?? "")
    .split(",")
    .map((role) => role.trim())
    .filter((role) => role !== "");

  api.idToken.setCustomClaim("department", attributes.department ?? "none");
  api.accessToken.setCustomClaim("roles", roles);
  if (attributes.plan === "premium") api.scopes.add("reports:read");
  if (attributes.status === "review") api.scopes.remove("profile:write");
}
