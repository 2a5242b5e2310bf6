// The web UI of `flowc serve`: flows, runs, and one run, navigated by the URL's hash.
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import "@xyflow/react/dist/style.css";
import "./styles.css";
import { setToken, token } from "./api.js";
import { FlowsPage } from "./FlowsPage.jsx";
import { RunsPage } from "./RunsPage.jsx";
import { RunPage } from "./RunPage.jsx";

function useHash() {
  const [hash, setHash] = useState(window.location.hash || "#/flows");
  useEffect(() => {
    const changed = () => setHash(window.location.hash || "#/flows");
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function Login() {
  const [value, setValue] = useState("");
  const [saved, setSaved] = useState(Boolean(token()));
  return (
    <form
      className="login"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value);
        setSaved(Boolean(value));
        setValue("");
        window.dispatchEvent(new Event("flowc-token"));
      }}
    >
      <label htmlFor="token">API token</label>
      <input id="token" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
      <button type="submit">{saved ? "Replace token" : "Use token"}</button>
      {saved && (
        <button type="button" onClick={() => { setToken(""); setSaved(false); }}>
          Forget token
        </button>
      )}
    </form>
  );
}

function App() {
  const hash = useHash();
  const [epoch, setEpoch] = useState(0);
  useEffect(() => {
    const bump = () => setEpoch((n) => n + 1);
    window.addEventListener("flowc-token", bump);
    return () => window.removeEventListener("flowc-token", bump);
  }, []);
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  let page;
  if (parts[0] === "runs" && parts[1]) page = <RunPage key={parts[1] + epoch} runId={parts[1]} />;
  else if (parts[0] === "runs") page = <RunsPage key={epoch} />;
  else page = <FlowsPage key={epoch} selected={parts[1]} />;
  const current = parts[0] === "runs" ? "runs" : "flows";
  return (
    <>
      <header>
        <span className="brand">flowc</span>
        <nav aria-label="main">
          <a href="#/flows" aria-current={current === "flows" ? "page" : undefined}>Flows</a>
          <a href="#/runs" aria-current={current === "runs" ? "page" : undefined}>Runs</a>
        </nav>
        <Login />
      </header>
      <main>{page}</main>
    </>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
