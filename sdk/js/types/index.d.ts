// Types of @keyhaven/extension: the events and APIs handlers receive. The contract's own
// shapes (WIT records, variants and enums as the component sees them) are generated from
// `wit/` into ./contract.d.ts by `npm run types`; the enums handlers see come from there.

import type * as Contract from "./contract.js";

/** Any value a JWT claim or a JSON attribute can hold. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The tenant on whose behalf the hook runs. */
export interface Tenant {
  /** Stable tenant id. */
  id: string;
  /** The tenant's unique, DNS-label-safe name. */
  name: string;
}

/** `api.config`: the extension's settings, set by the tenant administrator. */
export interface Config {
  /** The setting's value, or `undefined` if it is not set. */
  get(key: string): string | undefined;
}

/** `api.secrets`: the extension's write-only secrets (API keys, tokens). */
export interface Secrets {
  /** The secret's value, or `undefined` if it is not set. */
  get(name: string): string | undefined;
}

/** `api.kv`: the tenant's key-value store, shared by its extensions. Operations throw a
 * {@link KvError} when the host refuses them. */
export interface Kv {
  /** The value stored under `key`, or `undefined`. */
  get(key: string): Json | undefined;
  /** Stores `value` under `key`, replacing what was there. */
  set(key: string, value: Json): void;
  /** Removes `key`; true if it existed. */
  delete(key: string): boolean;
}

/** What every handler's `api` carries. */
export interface Services {
  config: Config;
  secrets: Secrets;
  kv: Kv;
}

export declare const config: Config;
export declare const secrets: Secrets;
export declare const kv: Kv;

/** A key-value store operation the host refused. */
export declare class KvError extends Error {
  /** Why: the contract's `kv-error` case. */
  readonly code: Contract.Kv.KvError["tag"];
}

// ---- token issuance -------------------------------------------------------------------

/** Who the token is issued to. */
export interface TokenSubject {
  type: "client" | "account";
  /** The client id or the account id. */
  id: string;
  /** The client's or account's attributes (a JSON object). */
  attributes: { [key: string]: Json };
}

export interface TokenIssuanceEvent {
  tenant: Tenant;
  subject: TokenSubject;
  /** Set when a machine client authenticates with its own credentials. */
  client?: { id: string; name: string; attributes: { [key: string]: Json } };
  /** Set when the token is for a person. */
  account?: { id: string; username: string; attributes: { [key: string]: Json } };
  /** The OAuth grant type, e.g. `client_credentials`. */
  grantType: string;
  /** The scopes about to be granted. */
  scopes: string[];
  /** The audiences the access token is for. */
  audience: string[];
}

export interface TokenClaims {
  /** Adds (or replaces) a claim. Protected claims (`iss sub aud exp nbf iat jti auth_time
   * nonce acr amr azp sid scope tenant client_id`) fail the issuance loudly. */
  setCustomClaim(name: string, value: Json): void;
}

export interface TokenIssuanceApi extends Services {
  accessToken: TokenClaims;
  idToken: TokenClaims;
  access: {
    /** Refuses the token; the reason is shown to the client, sanitised. */
    deny(reason?: string): void;
  };
  scopes: {
    /** Adds a scope the client may obtain (the tenant's controls decide which). */
    add(scope: string): void;
    /** Removes a scope from the token. */
    remove(scope: string): void;
  };
}

/** Runs inside every token request. Throwing is an extension failure (the binding's
 * failure policy decides); `api.access.deny` is a refusal. */
export type TokenIssuanceHandler = (event: TokenIssuanceEvent, api: TokenIssuanceApi) => void | Promise<void>;

// ---- OTP delivery ---------------------------------------------------------------------

export interface OtpDeliveryEvent {
  tenant: Tenant;
  /** Unique per code: an idempotency key for providers that deduplicate. */
  deliveryId: string;
  accountId: string;
  channel: Contract.OtpDelivery.Channel;
  /** The phone number or e-mail address, if the tenant stores one. */
  recipient?: string;
  /** The code to deliver. */
  code: string;
  /** Why the code was issued, e.g. `login`, `enrollment`, `recovery`. */
  purpose: string;
  expiresAt: Date;
  /** The person's preferred language (BCP 47), if known. */
  locale?: string;
}

export interface OtpDeliveryApi extends Services {
  delivery: {
    /** This recipient cannot be reached on this channel; asking again will not help. */
    reject(reason?: string): void;
  };
}

/** Delivers the code; returns the provider's message id (or `{ messageId }`), if any.
 * Throwing means the provider failed: the person may ask for a new code. */
export type OtpDeliveryHandler = (
  event: OtpDeliveryEvent,
  api: OtpDeliveryApi,
) => string | { messageId?: string } | void | Promise<string | { messageId?: string } | void>;

// ---- account creation -----------------------------------------------------------------

export interface AccountData {
  username: string;
  email?: string;
  phone?: string;
  attributes: { [key: string]: Json };
}

export interface AccountCreationEvent {
  tenant: Tenant;
  source: Contract.AccountCreation.Source;
  account: AccountData;
}

export interface AccountCreationApi extends Services {
  access: {
    /** Refuses the account; the reason is shown to whoever tried, sanitised. */
    deny(reason?: string): void;
  };
  account: {
    setUsername(username: string): void;
    setEmail(email: string): void;
    setPhone(phone: string): void;
    setAttribute(name: string, value: Json): void;
    removeAttribute(name: string): void;
  };
}

/** Runs inside the request that creates an account: allow (the default), change, or deny. */
export type AccountCreationHandler = (event: AccountCreationEvent, api: AccountCreationApi) => void | Promise<void>;

export interface AccountCreatedEvent {
  tenant: Tenant;
  source: Contract.AccountCreation.Source;
  accountId: string;
  account: AccountData;
}

/** Runs once the account exists, for side effects. */
export type AccountCreatedHandler = (event: AccountCreatedEvent, api: Services) => void | Promise<void>;

// ---- events and schedules -------------------------------------------------------------

export interface PlatformEvent {
  tenant: Tenant;
  /** 1 for the first delivery, more for retries. */
  attempt: number;
  /** Unique and stable across redeliveries: be idempotent on it. */
  id: string;
  time: Date;
  category: string;
  /** What happened, e.g. `token.issued`, `account.created`. */
  action: string;
  origin: string;
  outcome: Contract.Events.Outcome;
  reason?: string;
  accountId?: string;
  detail: { [key: string]: Json };
}

/** Handles one event; throwing asks for a redelivery later. */
export type EventHandler = (event: PlatformEvent, api: Services) => void | Promise<void>;

export interface ScheduledRun {
  tenant: Tenant;
  runId: string;
  /** The binding's cron expression. */
  schedule: string;
  scheduledAt: Date;
}

/** Does the scheduled work; throwing records the run as failed. */
export type ScheduleHandler = (run: ScheduledRun, api: Services) => void | Promise<void>;
