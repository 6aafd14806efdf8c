// Calls the suite's public services with the Connect protocol (unary, JSON): one POST per call
// to "<base>/<package.Service>/<Method>". A refused call throws an RPCFailure carrying the
// Connect code, the message, the BadRequest field violations (by the request's own field
// paths) and the ErrorInfo reason, decoded from the error's google.rpc details.

export class RPCFailure extends Error {
  constructor(code, message, violations, reason) {
    super(message);
    this.code = code;
    this.violations = violations;
    this.reason = reason;
  }
}

export async function call(base, method, request, { timeoutMs = 15000 } = {}) {
  let response;
  try {
    response = await fetch(`${base}/${method}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "connect-protocol-version": "1",
        "connect-timeout-ms": String(timeoutMs),
      },
      body: JSON.stringify(request),
    });
  } catch (error) {
    // The browser reached nothing (network down, service stopped, CORS refused).
    throw new RPCFailure("unavailable", String(error), [], "");
  }
  const text = await response.text();
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new RPCFailure("unknown", `HTTP ${response.status}`, [], "");
  }
  if (response.ok) return body;
  let violations = [];
  let reason = "";
  for (const detail of body.details || []) {
    const bytes = base64Bytes(detail.value || "");
    if (detail.type === "google.rpc.BadRequest") violations = violations.concat(badRequest(bytes));
    if (detail.type === "google.rpc.ErrorInfo") reason = fields(bytes).get(1)?.[0] ?? "";
  }
  throw new RPCFailure(body.code || "unknown", body.message || "", violations, reason);
}

function base64Bytes(text) {
  const padded = text + "===".slice((text.length + 3) % 4);
  const binary = atob(padded.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

// google.rpc.BadRequest: repeated FieldViolation field_violations = 1 { field = 1; description = 2 }.
function badRequest(bytes) {
  return (fields(bytes, true).get(1) || []).map((violation) => {
    const parts = fields(violation, true);
    const text = (n) => new TextDecoder().decode(parts.get(n)?.[0] ?? new Uint8Array());
    return { field: text(1), description: text(2) };
  });
}

// The length-delimited fields of a protobuf message, by number: strings (or raw bytes).
function fields(bytes, raw = false) {
  const found = new Map();
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    while (at < bytes.length) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7;
    }
    return -1;
  };
  while (at < bytes.length) {
    const key = varint();
    if (key < 0) break;
    const type = key & 7;
    const number = Math.floor(key / 8);
    if (type === 0) varint();
    else if (type === 1) at += 8;
    else if (type === 5) at += 4;
    else if (type === 2) {
      const length = varint();
      const content = bytes.slice(at, at + length);
      at += length;
      const value = raw ? content : new TextDecoder().decode(content);
      found.set(number, (found.get(number) || []).concat([value]));
    } else break;
  }
  return found;
}
