// Example Keyhaven extension in TypeScript: adds claims derived from the subject's
// attributes, plus a fixed one, to every access token (and the organisation to a person's
// ID token too); looks the subject's organisation up in the tenant's key-value store
// (`org:<org>`, e.g. `{"plan": "gold"}`) and adds its plan; refuses tokens to subjects
// marked `"suspended": true`. The same behaviour as the Rust `custom-claims` example.

import type { Json, TokenIssuanceApi, TokenIssuanceEvent } from "@keyhaven/extension";

export async function onTokenIssuance(event: TokenIssuanceEvent, api: TokenIssuanceApi): Promise<void> {
  const { attributes, id } = event.subject;
  if (attributes.suspended === true) {
    console.warn(`refusing a token to suspended subject ${id}`);
    api.access.deny("this client is suspended");
    return;
  }

  api.accessToken.setCustomClaim("issued_by_extension", "custom-claims-js");
  const org = attributes.org;
  if (org !== undefined) {
    api.accessToken.setCustomClaim("org", org);
    api.idToken.setCustomClaim("org", org);
    if (typeof org === "string") {
      try {
        const record = api.kv.get(`org:${org}`) as { plan?: Json } | undefined;
        if (record?.plan !== undefined) api.accessToken.setCustomClaim("plan", record.plan);
      } catch (error) {
        // The store is a nice-to-have here: issue the token without the plan.
        console.warn(`no plan for ${org}: ${error}`);
      }
    }
  }
  api.accessToken.setCustomClaim("roles", attributes.roles ?? []);
  console.log(`added claims for ${id}`);
}
