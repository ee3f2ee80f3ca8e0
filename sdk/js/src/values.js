// Conversions between the WIT contract's shapes and the plain objects handlers see.

/** A JSON document from the host, parsed; an unparsable or empty one becomes `{}`. */
export function parseObject(text) {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

/** A value as the JSON text the host expects; `undefined`, functions and symbols are refused. */
export function toJson(what, value) {
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new TypeError(`${what}: ${typeof value} is not a JSON value`);
  }
  return text;
}

/** The message of anything thrown. */
export function messageOf(error) {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

export function tenantOf(tenant) {
  return { id: tenant.id, name: tenant.name };
}

/** The `err` value of a failed WIT import: the runtime throws it wrapped in an `Error`
 * whose `payload` holds it; the Node test host throws it as it is. */
export function witError(thrown) {
  return thrown instanceof Error && "payload" in thrown ? thrown.payload : thrown;
}
