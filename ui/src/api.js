// The server's API, with the bearer token kept in sessionStorage (never in a URL).
// Events are read with fetch (EventSource cannot send an Authorization header)
// and parsed as Server-Sent Events here.

const KEY = "flowc.token";

export function token() {
  return sessionStorage.getItem(KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || {};
    throw new ApiError(response.status, error.code || "error", error.message || response.statusText);
  }
  return data;
}

// Calls onEvent(name, data) for each event of the run; returns a function that stops.
export function streamEvents(runId, onEvent, onEnd) {
  const controller = new AbortController();
  (async () => {
    try {
      const response = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events`, {
        headers: headers({ Accept: "text/event-stream" }),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) return;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // One split per read: slicing the buffer per event would copy it per event.
        const chunks = (buffer + value).split("\n\n");
        buffer = chunks.pop();
        for (const chunk of chunks) {
          let name = "message";
          const data = [];
          for (const line of chunk.split("\n")) {
            if (line.startsWith("event:")) name = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
          }
          if (data.length) onEvent(name, JSON.parse(data.join("\n")));
        }
      }
    } catch (error) {
      if (error.name !== "AbortError") console.warn("event stream:", error.message);
    } finally {
      if (onEnd) onEnd();
    }
  })();
  return () => controller.abort();
}
