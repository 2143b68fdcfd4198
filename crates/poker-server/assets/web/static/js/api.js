// The REST API (PROTOCOL.md section 3): JSON in, JSON out, errors as ApiError.

/** An answer other than 2xx: `status`, and the server's `code`, `message` and `field`. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** The server could not be reached at all. */
export class NetworkError extends Error {
  constructor(cause) {
    super(String(cause && cause.message ? cause.message : cause));
    this.name = "NetworkError";
  }
}

const listeners = new Set();

/** Calls `fn()` whenever a request answers 401: the login has expired (or was ended). */
export function onUnauthorized(fn) {
  listeners.add(fn);
}

/**
 * Sends a request. `body` is sent as JSON unless `contentType` says otherwise (then as is).
 * Resolves to the parsed JSON (or null for an empty answer).
 */
export async function request(method, path, { body, contentType, quiet401 = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    if (contentType) {
      init.headers["Content-Type"] = contentType;
      init.body = body;
    } else {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new NetworkError(e);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    if (response.status === 401 && !quiet401) {
      for (const fn of listeners) fn();
    }
    throw new ApiError(response.status, error.code || "http_" + response.status,
      error.message || response.statusText || `HTTP ${response.status}`, error.field);
  }
  return data;
}

export const api = {
  login: (username, password) =>
    request("POST", "/api/auth/login", { body: { username, password }, quiet401: true }),
  logout: () => request("POST", "/api/auth/logout"),
  me: () => request("GET", "/api/auth/me"),

  openSessions: () => request("GET", "/api/sessions?open=true"),
  sessions: () => request("GET", "/api/sessions"),
  session: (id) => request("GET", `/api/sessions/${id}`),
  createSession: (body) => request("POST", "/api/sessions", { body }),
  updateSession: (id, body) => request("PATCH", `/api/sessions/${id}`, { body }),
  deleteSession: (id) => request("DELETE", `/api/sessions/${id}`),

  createStory: (sessionId, body) =>
    request("POST", `/api/sessions/${sessionId}/stories`, { body }),
  updateStory: (id, body) => request("PATCH", `/api/stories/${id}`, { body }),
  deleteStory: (id) => request("DELETE", `/api/stories/${id}`),
  reorderStories: (sessionId, storyIds) =>
    request("PUT", `/api/sessions/${sessionId}/stories/order`, { body: { story_ids: storyIds } }),
  importStories: (sessionId, csv) =>
    request("POST", `/api/sessions/${sessionId}/stories/import`,
      { body: csv, contentType: "text/csv" }),

  invitation: (token) => request("GET", `/api/invites/${encodeURIComponent(token)}`),
  join: (token, name) =>
    request("POST", `/api/invites/${encodeURIComponent(token)}/join`, { body: { name } }),
  invites: (sessionId) => request("GET", `/api/sessions/${sessionId}/invites`),
  createInvite: (sessionId, body) =>
    request("POST", `/api/sessions/${sessionId}/invites`, { body }),
  revokeInvite: (sessionId, inviteId) =>
    request("DELETE", `/api/sessions/${sessionId}/invites/${inviteId}`),

  webhooks: () => request("GET", "/api/webhooks"),
  createWebhook: (body) => request("POST", "/api/webhooks", { body }),
  deleteWebhook: (id) => request("DELETE", `/api/webhooks/${id}`),
  deliveries: (id) => request("GET", `/api/webhooks/${id}/deliveries`),

  users: () => request("GET", "/api/users"),
  createUser: (body) => request("POST", "/api/users", { body }),
  updateUser: (id, body) => request("PATCH", `/api/users/${id}`, { body }),
  deleteUser: (id) => request("DELETE", `/api/users/${id}`),
};
