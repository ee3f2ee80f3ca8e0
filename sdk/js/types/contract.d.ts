// Generated from wit/ by `npm run types` (bin/generate-types.mjs): do not edit.
// The contract's shapes as a keyhaven-js component sees them.

/** Account creation: `before` runs inside the request that creates an account and may
 * allow it, allow it with changed data, or deny it; `after` runs once it exists, for
 * side effects. Since 0.1.1. */
export namespace AccountCreation {
  /** How the account is being created. */
  export type Source = "self-registration" | "admin" | "bulk-import";
  export interface AccountData {
    username: string;
    email: string | null;
    phone: string | null;
    /** The account's attributes, a JSON object. */
    attributes: Types.Json;
  }
  /** Replacement values; a field left `none` keeps the submitted value. */
  export interface AccountChanges {
    username: string | null;
    email: string | null;
    phone: string | null;
    attributes: Types.Json | null;
  }
  export type Verdict =
    | { tag: "allow" }
    | { tag: "allow-with"; val: AccountCreation.AccountChanges }
    | { tag: "deny"; val: string };
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    before(tenant: Types.Tenant, source: AccountCreation.Source, account: AccountCreation.AccountData): AccountCreation.Verdict;
    after(tenant: Types.Tenant, source: AccountCreation.Source, accountId: string, account: AccountCreation.AccountData): void;
  }
}

/** The extension's configuration: plain key/value settings the tenant administrator sets
 * for the extension (all its versions see the same values). Since 0.1.1. */
export namespace Config {
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    /** The value of one setting, if it is set. */
    get(key: string): string | null;
  }
}

/** Platform events, delivered asynchronously (outside the request that caused them) to
 * the deployments whose filter matches, at least once: an error or a limit hit is retried
 * with backoff, so a handler should be idempotent on the event id. Since 0.1.1. */
export namespace Events {
  export type Outcome = "success" | "failed" | "pending";
  export interface Event {
    /** Unique and stable across redeliveries. */
    id: string;
    /** Seconds since the Unix epoch. */
    time: number;
    /** `api-call`, `data-capture`, `resource-change`, `authentication`,
     * `authorization` or `communication`. */
    category: string;
    /** What happened, e.g. `token.issued`, `extension.deployed`, `account.created`. */
    action: string;
    /** Who or what caused it, e.g. `admin-api`, `token-endpoint`. */
    origin: string;
    outcome: Events.Outcome;
    reason: string | null;
    accountId: string | null;
    /** Details as a JSON object; secrets are redacted, updates list what was added
     * and removed. */
    detail: Types.Json;
  }
  export interface Delivery {
    tenant: Types.Tenant;
    event: Events.Event;
    /** 1 for the first delivery, more for retries. */
    attempt: number;
  }
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    /** Handles one event; an error asks for a retry later.
     * Throws string. */
    handle(delivery: Events.Delivery): void;
  }
}

/** Outbound HTTP in one call, for guests whose runtime cannot drive `wasi:http`'s
 * resources (the JavaScript runtime: its `fetch` is built on this). The request goes
 * through the same policy as `wasi:http/outgoing-handler`: only to the hosts the tenant
 * allowed (default: none), never during a dry run, within the tenant's HTTP timeout and
 * the invocation's deadline, the response body cut off at the tenant's size limit; a
 * refusal is also written to the invocation's log. Since 0.1.2. */
export namespace Http {
  export interface Request {
    /** `GET`, `POST`, ... */
    method: string;
    /** An absolute `http` or `https` URL. */
    url: string;
    headers: unknown[];
    body: number[] | null;
  }
  export interface Response {
    status: number;
    headers: unknown[];
    body: number[];
  }
  export type HttpError =
    | { tag: "refused"; val: string }
    | { tag: "invalid-request"; val: string }
    | { tag: "failed"; val: string };
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    /** Sends one request and returns the whole response.
     * Throws Http.HttpError. */
    fetch(request: Http.Request): Http.Response;
  }
}

/** A small key-value store shared by the tenant's extensions (and writable through the
 * admin API). Keys and values are bounded by the tenant's plan; writes made during a dry
 * run are visible to that run only. Since 0.1.1. */
export namespace Kv {
  export type KvError =
    | { tag: "invalid-key"; val: string }
    | { tag: "invalid-value"; val: string }
    | { tag: "too-large"; val: string }
    | { tag: "quota-exceeded"; val: string }
    | { tag: "unavailable"; val: string };
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    /** The value stored under `key`, if any.
     * Throws Kv.KvError. */
    get(key: string): Types.Json | null;
    /** Stores `value` under `key`, replacing what was there.
     * Throws Kv.KvError. */
    set(key: string, value: Types.Json): void;
    /** Removes `key`; true if it existed.
     * Throws Kv.KvError. */
    delete(key: string): boolean;
  }
}

/** Structured, leveled logging. What a guest logs is captured with the invocation
 * (bounded per invocation) and never reaches another tenant. */
export namespace Log {
  export type Level = "trace" | "debug" | "info" | "warn" | "error";
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    /** Records one log line. */
    log(level: Log.Level, message: string): void;
  }
}

/** OTP delivery: the host generates a one-time code (and stores only its hash); this hook
 * delivers it, typically over outbound HTTP to an SMS or e-mail provider. The host never
 * retries a delivery: a failure is reported to the person, who may ask for a new code,
 * so no one receives a second code they did not ask for. Since 0.1.1. */
export namespace OtpDelivery {
  export type Channel = "sms" | "email" | "voice";
  export interface OtpMessage {
    tenant: Types.Tenant;
    /** Unique per code: providers that deduplicate can use it as an idempotency key. */
    deliveryId: string;
    accountId: string;
    channel: OtpDelivery.Channel;
    /** The phone number or e-mail address, if the tenant stores one; a tenant that
     * stores none looks the account up itself. */
    recipient: string | null;
    /** The code to deliver. */
    code: string;
    /** Why the code was issued, e.g. `login`, `enrollment`, `recovery`. */
    purpose: string;
    /** When the code expires, in seconds since the Unix epoch. */
    expiresAt: number;
    /** The person's preferred language (BCP 47), if known. */
    locale: string | null;
  }
  export type DeliveryError =
    | { tag: "rejected"; val: string }
    | { tag: "unavailable"; val: string };
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    /** Delivers the code; on success, optionally the provider's message id.
     * Throws OtpDelivery.DeliveryError. */
    deliver(message: OtpDelivery.OtpMessage): string | null;
  }
}

/** Scheduled runs: the hook runs on the cron schedule of its binding, once per due time,
 * on one node. Since 0.1.1. */
export namespace Scheduled {
  export interface ScheduledRun {
    tenant: Types.Tenant;
    /** Unique per run. */
    runId: string;
    /** The binding's cron expression. */
    schedule: string;
    /** The due time this run is for, in seconds since the Unix epoch. */
    scheduledAt: number;
  }
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    /** Does the scheduled work; an error is recorded with the run.
     * Throws string. */
    run(run: Scheduled.ScheduledRun): void;
  }
}

/** The extension's secrets (API keys, tokens), set write-only by the tenant administrator.
 * Encrypted at rest, decrypted only for the invocation that asks, never logged and never
 * returned by the admin API. Since 0.1.1. */
export namespace Secrets {
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    /** The value of one secret, if it is set. */
    get(name: string): string | null;
  }
}

/** Token issuance: runs synchronously inside every token request and may add claims to
 * the access token and the ID token, or deny the request.
 * 
 * Protected claims (`iss sub aud exp nbf iat jti auth_time nonce acr amr azp sid
 * scope tenant client_id`) cannot be set by an extension: an attempt fails the issuance
 * with a clear error instead of being dropped silently. */
export namespace TokenIssuance {
  /** A machine client authenticating with its own credentials. */
  export interface Client {
    clientId: string;
    name: string;
    /** The client's attributes, a JSON object set by the tenant administrator. */
    attributes: Types.Json;
  }
  /** A human account. */
  export interface Account {
    accountId: string;
    username: string;
    /** The account's attributes, a JSON object. */
    attributes: Types.Json;
  }
  /** Who the token is issued to. */
  export type Subject =
    | { tag: "client"; val: TokenIssuance.Client }
    | { tag: "account"; val: TokenIssuance.Account };
  export interface TokenRequest {
    tenant: Types.Tenant;
    subject: TokenIssuance.Subject;
    /** The OAuth grant type, e.g. `client_credentials`. */
    grantType: string;
    /** The scopes about to be granted. */
    scopes: string[];
    /** The audiences the access token is for. */
    audience: string[];
  }
  /** One claim: its name and its value as JSON. */
  export interface Claim {
    name: string;
    value: Types.Json;
  }
  /** Claims to add to the tokens being issued. */
  export interface Claims {
    accessToken: TokenIssuance.Claim[];
    idToken: TokenIssuance.Claim[];
  }
  export type Decision =
    | { tag: "issue"; val: TokenIssuance.Claims }
    | { tag: "deny"; val: string };
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    issue(request: TokenIssuance.TokenRequest): TokenIssuance.Decision;
  }
}

/** Scope changes for a token being issued (since 0.1.1). A component exporting
 * `token-issuance` may export this too: right after `issue` allowed the token, the host
 * asks the same instance which scopes to add or suppress. Added scopes must be among those
 * the client may obtain (the tenant's controls); asking for more fails the issuance,
 * loudly, as a protected claim does. Components built against 0.1.0 export only
 * `token-issuance` and change no scopes. */
export namespace TokenScopes {
  export interface ScopeChanges {
    add: string[];
    suppress: string[];
  }
  /** The interface's functions (imported by the component, or exported by it). */
  export interface Functions {
    scopes(request: TokenIssuance.TokenRequest): TokenScopes.ScopeChanges;
  }
}

/** Types shared by every hook. */
export namespace Types {
  /** A JSON document, as UTF-8 text. Claims and attributes travel as JSON so that
   * extensions can carry any value a JWT claim can hold. */
  export type Json = string;
  /** The tenant on whose behalf the hook runs. */
  export interface Tenant {
    /** Stable tenant id. */
    id: string;
    /** The tenant's unique, DNS-label-safe name. */
    name: string;
  }
}
