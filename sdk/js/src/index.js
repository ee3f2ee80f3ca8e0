// @keyhaven/extension: write Keyhaven extensions in JavaScript or TypeScript.
//
// A handler module exports one function per hook it implements; each receives the
// `event` and an `api` (see types/index.d.ts):
//
//   onTokenIssuance(event, api)   access/ID token claims, scopes, deny
//   onOtpDelivery(event, api)     deliver a one-time code; return the provider's id
//   onAccountCreation(event, api) before an account is created: change it or deny
//   onAccountCreated(event, api)  after an account was created
//   onEvent(event, api)           platform events, at least once; throw to retry
//   onSchedule(event, api)        the binding's cron schedule
//
// `config`, `secrets` and `kv` are also importable here; `console` writes to the
// invocation's log. Build with `keyhaven-js build handler.ts`; test under Node with
// `@keyhaven/extension/testing`.

export { config, secrets, kv, KvError } from "./api.js";
