// A run's step states, folded from its events (live) and its journal (afterwards).
// Events arrive in batches (see RunPage): `fold` takes a whole batch at once.
import { stepName } from "./Graph.jsx";

const OUTCOMES = { completed: "completed", replayed: "completed", fallback: "completed", failed: "failed", skipped: "skipped" };

export function emptyState() {
  return { steps: {}, order: [], start: null, end: null, log: [] };
}

function step(state, key) {
  let s = state.steps[key];
  if (!s) {
    s = { key, name: stepName(key), state: "pending", attempts: [], error: null, status: 0, started: null, finished: null };
    state.steps[key] = s;
    state.order.push(key);
  }
  return s;
}

function seconds(iso) {
  return iso ? Date.parse(iso) / 1000 : null;
}

// Mutates `state` (a fresh copy from `fold`), copying each step it changes: the step
// list's rows are memoised by step object.
export function fromJournal(state, steps) {
  for (const row of steps || []) {
    if (state.steps[row.key]) {
      const old = state.steps[row.key];
      state.steps[row.key] = { ...old, attempts: [...old.attempts] };
    }
    const s = step(state, row.key);
    if (s.state !== "compensated") s.state = OUTCOMES[row.outcome] || s.state;
    s.status = row.status || s.status;
    s.error = row.error || s.error;
    s.started = s.started ?? seconds(row.started_at);
    s.finished = s.finished ?? s.started + row.elapsed_ms / 1000;
    s.attemptCount = row.attempts;
    s.outcome = row.outcome;
    if (!s.attempts.length) {
      s.attempts.push({ attempt: row.attempts, start: s.started, end: s.finished, status: row.status, summary: true });
    }
    track(state, s.started, s.finished);
  }
}

function track(state, start, end) {
  if (start != null) state.start = state.start == null ? start : Math.min(state.start, start);
  if (end != null) state.end = state.end == null ? end : Math.max(state.end, end);
}

export function fold(previous, events) {
  const state = { ...previous, steps: { ...previous.steps }, order: [...previous.order] };
  const touched = new Set();
  const get = (key) => {
    if (!touched.has(key) && state.steps[key]) {
      state.steps[key] = { ...state.steps[key], attempts: [...state.steps[key].attempts] };
    }
    touched.add(key);
    return step(state, key);
  };
  for (const e of events) {
    track(state, e.time, e.time);
    if (!e.step) continue;
    const s = get(e.step);
    switch (e.event) {
      case "step_started":
        s.state = "running";
        s.started = e.time;
        s.method = e.method;
        break;
      case "attempt_started":
        s.state = s.state === "retrying" || s.attempts.length ? "retrying" : "running";
        s.attempts.push({ attempt: e.attempt, method: e.method, url: e.url, start: e.time, end: null });
        s.method = e.method;
        s.url = e.url;
        break;
      case "step_attempt": {
        const a = s.attempts.find((x) => x.attempt === e.attempt && x.end == null);
        const record = { attempt: e.attempt, method: e.method, url: e.url, status: e.status, error: e.error, end: e.time, start: e.time - e.elapsed_ms / 1000 };
        if (a) Object.assign(a, record);
        else s.attempts.push(record);
        s.url = e.url;
        break;
      }
      case "step_retry":
        s.state = "retrying";
        s.error = e.error;
        s.retryDelay = e.delay;
        break;
      case "step_failed":
        s.error = e.error;
        break;
      case "step_finished":
        s.state = OUTCOMES[e.outcome] || e.outcome;
        s.outcome = e.outcome;
        s.status = e.status;
        s.finished = e.time;
        s.attemptCount = e.attempts;
        if (e.error) s.error = e.error;
        break;
      case "compensation_finished":
        if (e.outcome === "ran") s.state = "compensated";
        break;
      default:
        break;
    }
  }
  return state;
}

const RANK = { running: 6, retrying: 7, failed: 5, compensated: 4, completed: 3, skipped: 2, pending: 1 };

// The state of each graph node's step name: a loop's step shows its busiest iteration.
// A run whose compensations ran shows its completed compensable steps as compensated
// (when the page opened after they ran, no event said so).
export function statesByName(state, compensable) {
  const byName = {};
  for (const key of state.order) {
    const s = state.steps[key];
    const shown = compensable && compensable.has(s.name) && s.state === "completed" ? "compensated" : s.state;
    const now = byName[s.name];
    if (!now || RANK[shown] > RANK[now]) byName[s.name] = shown;
  }
  return byName;
}
