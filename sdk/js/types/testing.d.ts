import type * as Sdk from "./index.js";

/** Configuration, secrets and a key-value store in memory, and the log lines written. */
export declare class FakeHost {
  constructor(init?: { config?: Record<string, string>; secrets?: Record<string, string>; kv?: Record<string, Sdk.Json> });
  config: Map<string, string>;
  secrets: Map<string, string>;
  /** Values as stored: JSON text. */
  kv: Map<string, string>;
  log: { level: string; message: string }[];
  kvValue(key: string): Sdk.Json | undefined;
}

/** The handlers a module exports (TypeScript bundled with esbuild first). */
export declare function loadHandlers(module: string | URL): Promise<Record<string, any>>;

interface Run {
  log: { level: string; message: string }[];
  host: FakeHost;
}

export declare function runTokenIssuance(
  handler: Sdk.TokenIssuanceHandler,
  request?: {
    client?: { id?: string; name?: string; attributes?: Record<string, Sdk.Json> };
    account?: { id?: string; username?: string; attributes?: Record<string, Sdk.Json> };
    grantType?: string;
    scopes?: string[];
    audience?: string[];
    tenant?: Sdk.Tenant;
  },
  host?: FakeHost,
): Promise<Run & { denied?: string; accessToken: Record<string, Sdk.Json>; idToken: Record<string, Sdk.Json>; scopes: { add: string[]; remove: string[] } }>;

export declare function runOtpDelivery(
  handler: Sdk.OtpDeliveryHandler,
  message?: Partial<Omit<Sdk.OtpDeliveryEvent, "expiresAt">> & { expiresAt?: number },
  host?: FakeHost,
): Promise<Run & { delivered: boolean; messageId?: string; rejected?: string; unavailable?: string }>;

export declare function runAccountCreation(
  handler: Sdk.AccountCreationHandler,
  account?: Partial<Sdk.AccountData> & { tenant?: Sdk.Tenant },
  host?: FakeHost,
  source?: string,
): Promise<Run & { denied?: string; changes: Partial<Sdk.AccountData>; account: Sdk.AccountData }>;

export declare function runAccountCreated(
  handler: Sdk.AccountCreatedHandler,
  accountId?: string,
  account?: Partial<Sdk.AccountData>,
  host?: FakeHost,
  source?: string,
): Promise<Run>;

export declare function runEvent(handler: Sdk.EventHandler, event?: Record<string, unknown>, host?: FakeHost, attempt?: number): Promise<Run & { retry?: string }>;

export declare function runSchedule(handler: Sdk.ScheduleHandler, run?: Record<string, unknown>, host?: FakeHost): Promise<Run & { failed?: string }>;
