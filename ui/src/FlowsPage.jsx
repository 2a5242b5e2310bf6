// Flows: each flow's graph (click a node for its source lines and clauses) and a
// form, generated from the flow's input schema, that starts a run.
import { useEffect, useState } from "react";
import { api } from "./api.js";
import { FlowGraph } from "./Graph.jsx";

export function FlowsPage({ selected }) {
  const [flows, setFlows] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api("/v1/flows").then((d) => setFlows(d.flows), (e) => setError(e.message));
  }, []);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!flows) return <p>Loading flows…</p>;
  const flow = flows.find((f) => f.name === selected) || flows[0];
  return (
    <div className="columns">
      <nav aria-label="flows" className="sidebar">
        <h1>Flows</h1>
        <ul>
          {flows.map((f) => (
            <li key={f.name}>
              <a href={`#/flows/${encodeURIComponent(f.name)}`} aria-current={f === flow ? "page" : undefined}>
                {f.name}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {flow && <FlowView key={flow.name} flow={flow} />}
    </div>
  );
}

function FlowView({ flow }) {
  const [graph, setGraph] = useState(null);
  const [error, setError] = useState("");
  const [node, setNode] = useState(null);
  useEffect(() => {
    api(`/v1/flows/${encodeURIComponent(flow.name)}/graph`).then(setGraph, (e) => setError(e.message));
  }, [flow.name]);
  const chosen = graph && graph.nodes.find((n) => n.id === node);
  return (
    <section className="content" aria-labelledby="flow-title">
      <h2 id="flow-title">Flow {flow.name}</h2>
      <div className="columns">
        <div className="grow">
          {error && <p role="alert" className="error">{error}</p>}
          {graph && <FlowGraph graph={graph} onSelect={setNode} selected={node} />}
          {graph && <NodeList graph={graph} onSelect={setNode} />}
        </div>
        <aside className="panel">
          <StartForm flow={flow} />
          {chosen && <NodeSource node={chosen} source={graph.source} />}
        </aside>
      </div>
    </section>
  );
}

function NodeList({ graph, onSelect }) {
  return (
    <details className="node-list">
      <summary>Nodes as a list</summary>
      <ul>
        {graph.nodes.map((n) => (
          <li key={n.id}>
            <button type="button" onClick={() => onSelect(n.id)}>{n.kind} {n.label}</button>
          </li>
        ))}
      </ul>
    </details>
  );
}

function NodeSource({ node, source }) {
  const span = node.span || {};
  const lines = (source || []).slice(Math.max(0, span.line - 1), span.end_line || span.line);
  return (
    <section aria-label={`node ${node.label}`} className="node-detail" data-testid="node-detail">
      <h3>{node.kind} {node.label}</h3>
      {node.method && <p><code>{[node.method, node.service, node.path].filter(Boolean).join(" ")}</code></p>}
      {node.callee && <p>calls flow <code>{node.callee}</code></p>}
      {Object.keys(node.clauses || {}).length > 0 && (
        <dl>
          {Object.entries(node.clauses).map(([k, v]) => (
            <div key={k}><dt>{k}</dt><dd><code>{typeof v === "string" ? v : JSON.stringify(v)}</code></dd></div>
          ))}
        </dl>
      )}
      <pre aria-label="source lines" tabIndex={0}>
        {lines.map((l, i) => `${String(span.line + i).padStart(4)}  ${l}`).join("\n")}
      </pre>
    </section>
  );
}

function fieldKind(schema) {
  if (schema.type === "integer" || schema.type === "number") return "number";
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "string") return schema.writeOnly ? "password" : "text";
  return "json";
}

export function StartForm({ flow }) {
  const properties = flow.inputs.properties || {};
  const required = new Set(flow.inputs.required || []);
  const [values, setValues] = useState({});
  const [message, setMessage] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const body = {};
    try {
      for (const [name, schema] of Object.entries(properties)) {
        const raw = values[name];
        const kind = fieldKind(schema);
        if (kind === "boolean") body[name] = Boolean(raw);
        else if (raw === undefined || raw === "") continue;
        else if (kind === "number") body[name] = Number(raw);
        else if (kind === "json") body[name] = JSON.parse(raw);
        else body[name] = raw;
      }
    } catch (error) {
      setMessage({ error: `not JSON: ${error.message}` });
      return;
    }
    try {
      const run = await api(`/v1/flows/${encodeURIComponent(flow.name)}/runs`, { method: "POST", body });
      window.location.hash = `#/runs/${encodeURIComponent(run.id)}`;
    } catch (error) {
      setMessage({ error: error.message });
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="start-title" className="start-form">
      <h3 id="start-title">Start a run</h3>
      {Object.entries(properties).map(([name, schema]) => {
        const kind = fieldKind(schema);
        const id = `input-${name}`;
        const set = (v) => setValues((old) => ({ ...old, [name]: v }));
        return (
          <div key={name} className="field">
            <label htmlFor={id}>
              {name}{required.has(name) ? " (required)" : ""}
            </label>
            {kind === "boolean" ? (
              <input id={id} type="checkbox" checked={Boolean(values[name])} onChange={(e) => set(e.target.checked)} />
            ) : kind === "json" ? (
              <textarea id={id} value={values[name] || ""} placeholder="JSON" onChange={(e) => set(e.target.value)} />
            ) : (
              <input
                id={id}
                type={kind}
                required={required.has(name)}
                step={schema.type === "integer" ? 1 : "any"}
                value={values[name] ?? ""}
                autoComplete="off"
                onChange={(e) => set(e.target.value)}
              />
            )}
          </div>
        );
      })}
      <button type="submit">Start</button>
      {message?.error && <p role="alert" className="error">{message.error}</p>}
    </form>
  );
}
