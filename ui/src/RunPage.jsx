// One run: its graph coloured by step state, live from the run's event stream
// (events are batched and applied at most every FLUSH_MS), a Gantt chart of every
// attempt, a step's detail, and the actions cancel, resume and send signal.
import { memo, useDeferredValue, useEffect, useMemo, useRef, useState } from "react";
import { api, streamEvents } from "./api.js";
import { FlowGraph } from "./Graph.jsx";
import { emptyState, fold, fromJournal, statesByName } from "./runState.js";
import { Timeline } from "./Timeline.jsx";

const FLUSH_MS = 100;
const ENDED = new Set(["completed", "failed", "interrupted"]);

export function RunPage({ runId }) {
  const [run, setRun] = useState(null);
  const [graph, setGraph] = useState(null);
  const [state, setState] = useState(emptyState);
  const [selected, setSelected] = useState(null);
  const [error, setError] = useState("");
  const [live, setLive] = useState(false);

  const refresh = async () => {
    try {
      const fresh = await api(`/v1/runs/${encodeURIComponent(runId)}`);
      setRun(fresh);
      setState((old) => {
        const next = fold(old, []);
        fromJournal(next, fresh.steps);
        return next;
      });
      return fresh;
    } catch (e) {
      setError(e.message);
      return null;
    }
  };

  useEffect(() => {
    let stop = () => {};
    let stopped = false;
    let pending = [];
    let timer = null;
    const flush = () => {
      timer = null;
      const batch = pending;
      pending = [];
      if (batch.length) setState((old) => fold(old, batch));
    };
    (async () => {
      const first = await refresh();
      if (!first || stopped) return;
      api(`/v1/flows/${encodeURIComponent(first.flow)}/graph`).then(setGraph, () => {});
      if (ENDED.has(first.status)) return;
      setLive(true);
      stop = streamEvents(
        runId,
        (name, data) => {
          if (name === "status") {
            setRun((old) => ({ ...(old || {}), ...data }));
            return;
          }
          pending.push(data);
          if (timer == null) timer = setTimeout(flush, FLUSH_MS);
          if (name === "run_finished") setRun((old) => ({ ...old, status: data.status }));
        },
        () => {
          setLive(false);
          flush();
          refresh();
        },
      );
    })();
    return () => {
      stopped = true;
      stop();
      if (timer != null) clearTimeout(timer);
    };
  }, [runId]);

  const compensable = useMemo(() => {
    if (!run?.compensated || !graph) return null;
    return new Set(graph.nodes.filter((n) => n.step && n.clauses?.compensate).map((n) => n.step));
  }, [run?.compensated, graph]);
  const states = useMemo(() => statesByName(state, compensable), [state, compensable]);
  // The step list and the timeline follow at lower priority (an interruptible render),
  // so that a stream of events does not hold up input and the graph's colours.
  const lagging = useDeferredValue(state);
  if (error && !run) return <p role="alert" className="error">{error}</p>;
  if (!run) return <p>Loading run…</p>;
  const chosen = selected && state.steps[selected];
  const selectNode = (id) => {
    const node = graph?.nodes.find((n) => n.id === id);
    const key = node?.step && state.order.find((k) => state.steps[k].name === node.step);
    if (key) setSelected(key);
  };
  return (
    <section className="content" aria-labelledby="run-title">
      <h1 id="run-title">
        Run <code>{run.id}</code> of {run.flow}{" "}
        <span className={`badge status-${run.status}`} data-testid="run-status">{run.status}</span>
        {live && <span className="live" aria-label="receiving live events"> ● live</span>}
      </h1>
      <Actions run={run} onDone={refresh} />
      {run.error && (
        <p className="error" role="status">Error {run.error.kind ? `[${run.error.kind}]` : ""}: {run.error.message}</p>
      )}
      <div className="columns">
        <div className="grow">
          {graph && <FlowGraph graph={graph} states={states} onSelect={selectNode} />}
          <Timeline state={lagging} selected={selected} onSelect={setSelected} />
        </div>
        <aside className="panel">
          <StepList state={lagging} selected={selected} onSelect={setSelected} />
          {chosen && <StepDetail runId={run.id} step={chosen} />}
        </aside>
      </div>
    </section>
  );
}

const StepRow = memo(function StepRow({ step, pressed, onSelect }) {
  return (
    <li>
      <button
        type="button"
        className={`step-button state-${step.state}`}
        aria-pressed={pressed}
        onClick={() => onSelect(step.key)}
      >
        {step.key} <span className="state-word">{step.state}</span>
      </button>
    </li>
  );
});

const StepList = memo(function StepList({ state, selected, onSelect }) {
  const keys = state.order.slice(0, 300);
  return (
    <section aria-labelledby="steps-title">
      <h2 id="steps-title">Steps</h2>
      <ul className="step-list">
        {keys.map((key) => (
          <StepRow key={key} step={state.steps[key]} pressed={selected === key} onSelect={onSelect} />
        ))}
      </ul>
      {state.order.length > keys.length && <p>and {state.order.length - keys.length} more</p>}
    </section>
  );
});

function ms(seconds) {
  return seconds == null ? "" : `${(seconds * 1000).toFixed(1)} ms`;
}

const DONE = new Set(["completed", "failed", "skipped", "compensated"]);

// The journaled step with its response preview, once the step has ended.
function useJournaled(runId, step) {
  const [detail, setDetail] = useState(null);
  const done = DONE.has(step.state);
  useEffect(() => {
    setDetail(null);
    if (!done) return undefined;
    let alive = true;
    api(`/v1/runs/${encodeURIComponent(runId)}/steps/${step.key.split("/").map(encodeURIComponent).join("/")}`).then(
      (d) => alive && setDetail(d),
      () => {},
    );
    return () => {
      alive = false;
    };
  }, [runId, step.key, done]);
  return detail;
}

function Preview({ response, withheld }) {
  if (withheld) return <p>The response held a secret and was not kept.</p>;
  if (!response) return null;
  return (
    <figure className="preview">
      <figcaption>
        Response {response.status ?? ""} {response.content_type ? <code>{response.content_type}</code> : null}
        {response.truncated ? " (first part)" : ""}
      </figcaption>
      <pre tabIndex={0} aria-label="response preview" data-testid="response-preview">{response.body}</pre>
    </figure>
  );
}

function StepDetail({ runId, step }) {
  const last = step.attempts[step.attempts.length - 1];
  const journaled = useJournaled(runId, step);
  const error = step.error || journaled?.error;
  return (
    <section aria-labelledby="step-title" className="step-detail" data-testid="step-detail">
      <h2 id="step-title">Step {step.key}</h2>
      <dl>
        <div><dt>State</dt><dd>{step.state}</dd></div>
        {(step.method || last?.url) && (
          <div><dt>Request</dt><dd><code>{[step.method, last?.url || step.url].filter(Boolean).join(" ")}</code></dd></div>
        )}
        <div><dt>Status</dt><dd>{step.status || last?.status || "—"}</dd></div>
        <div><dt>Attempts</dt><dd>{step.attemptCount ?? step.attempts.length}</dd></div>
        {step.started != null && step.finished != null && (
          <div><dt>Time</dt><dd>{ms(step.finished - step.started)}</dd></div>
        )}
      </dl>
      {error && (
        <div className="error" role="status" data-testid="step-error">
          <strong>{error.kind || "error"}</strong>: {error.message || JSON.stringify(error)}
        </div>
      )}
      {journaled && <Preview response={journaled.response} withheld={journaled.withheld} />}
      {step.attempts.length > 0 && (
        <table aria-label="attempts">
          <thead><tr><th scope="col">#</th><th scope="col">Status</th><th scope="col">Time</th><th scope="col">Error</th></tr></thead>
          <tbody>
            {step.attempts.map((a, i) => (
              <tr key={i}>
                <td>{a.attempt}</td>
                <td>{a.status ?? ""}</td>
                <td>{a.end != null && a.start != null ? ms(a.end - a.start) : "running"}</td>
                <td>{a.error || ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Actions({ run, onDone }) {
  const [message, setMessage] = useState("");
  const [signal, setSignal] = useState("");
  const [payload, setPayload] = useState("");
  const busy = useRef(false);
  const act = async (path, body) => {
    if (busy.current) return;
    busy.current = true;
    try {
      const answer = await api(`/v1/runs/${encodeURIComponent(run.id)}/${path}`, { method: "POST", body });
      setMessage(answer.signal ? `signal ${answer.signal} kept (#${answer.sequence})` : `run is ${answer.status}`);
      onDone();
    } catch (e) {
      setMessage(e.message);
    } finally {
      busy.current = false;
    }
  };
  const ended = ENDED.has(run.status);
  return (
    <div className="actions">
      <button type="button" disabled={ended} onClick={() => act("cancel")}>Cancel run</button>
      <button type="button" disabled={!["failed", "interrupted"].includes(run.status)} onClick={() => act("resume")}>
        Resume run
      </button>
      <form
        aria-label="send signal"
        onSubmit={(e) => {
          e.preventDefault();
          let body;
          try {
            body = payload.trim() ? JSON.parse(payload) : undefined;
          } catch (error) {
            setMessage(`the payload is not JSON: ${error.message}`);
            return;
          }
          act(`signals/${encodeURIComponent(signal)}`, body);
        }}
      >
        <label htmlFor="signal-name">Signal</label>
        <input id="signal-name" value={signal} required onChange={(e) => setSignal(e.target.value)} />
        <label htmlFor="signal-payload">Payload (JSON)</label>
        <input id="signal-payload" value={payload} onChange={(e) => setPayload(e.target.value)} />
        <button type="submit" disabled={ended}>Send signal</button>
      </form>
      <p role="status" className="action-message" data-testid="action-message">{message}</p>
    </div>
  );
}
