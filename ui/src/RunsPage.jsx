// Runs: the newest runs, filtered by flow, status and time, paged by the server's
// cursor and refreshed every few seconds while the page is visible.
import { useCallback, useEffect, useState } from "react";
import { api } from "./api.js";

const STATUSES = ["", "queued", "running", "completed", "failed", "interrupted"];
const REFRESH_MS = 2000;

export function RunsPage() {
  const [filters, setFilters] = useState({ flow: "", status: "", since: "", until: "" });
  const [pages, setPages] = useState([null]);
  const [data, setData] = useState(null);
  const [flows, setFlows] = useState([]);
  const [error, setError] = useState("");
  const cursor = pages[pages.length - 1];

  useEffect(() => {
    api("/v1/flows").then((d) => setFlows(d.flows.map((f) => f.name)), () => {});
  }, []);

  const load = useCallback(async () => {
    const query = new URLSearchParams({ limit: "50" });
    for (const [k, v] of Object.entries(filters)) {
      if (!v) continue;
      query.set(k, k === "since" || k === "until" ? new Date(v).toISOString() : v);
    }
    if (cursor) query.set("cursor", cursor);
    try {
      setData(await api(`/v1/runs?${query}`));
      setError("");
    } catch (e) {
      setError(e.message);
    }
  }, [filters, cursor]);

  useEffect(() => {
    load();
    const timer = setInterval(() => document.visibilityState === "visible" && load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  const set = (name) => (e) => {
    setFilters((old) => ({ ...old, [name]: e.target.value }));
    setPages([null]);
  };
  return (
    <section className="content" aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      <form className="filters" aria-label="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Flow
          <select value={filters.flow} onChange={set("flow")}>
            <option value="">any</option>
            {flows.map((f) => <option key={f}>{f}</option>)}
          </select>
        </label>
        <label>
          Status
          <select value={filters.status} onChange={set("status")}>
            {STATUSES.map((s) => <option key={s} value={s}>{s || "any"}</option>)}
          </select>
        </label>
        <label>
          Since
          <input type="datetime-local" value={filters.since} onChange={set("since")} />
        </label>
        <label>
          Until
          <input type="datetime-local" value={filters.until} onChange={set("until")} />
        </label>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {data && (
        <table className="runs" aria-label="runs">
          <thead>
            <tr><th scope="col">Run</th><th scope="col">Flow</th><th scope="col">Status</th><th scope="col">Attempt</th><th scope="col">Created</th><th scope="col">Updated</th></tr>
          </thead>
          <tbody>
            {data.runs.map((r) => (
              <tr key={r.id}>
                <td><a href={`#/runs/${encodeURIComponent(r.id)}`}><code>{r.id.slice(0, 8)}</code></a></td>
                <td>{r.flow}</td>
                <td><span className={`badge status-${r.status}`}>{r.status}</span></td>
                <td>{r.attempt}</td>
                <td>{r.created_at}</td>
                <td>{r.updated_at}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        <button type="button" disabled={pages.length < 2} onClick={() => setPages((p) => p.slice(0, -1))}>Newer</button>
        <button type="button" disabled={!data?.next} onClick={() => setPages((p) => [...p, data.next])}>Older</button>
      </div>
    </section>
  );
}
