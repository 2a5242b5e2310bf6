// A Gantt chart of every attempt of every step: one row per step key, one bar per
// attempt, so overlaps (parallelism), retries and waits between them show at a glance.
import { memo } from "react";

const ROW = 18;
const LABEL = 180;
const WIDTH = 900;
const MAX_ROWS = 400;

export const Timeline = memo(function Timeline({ state, selected, onSelect }) {
  const keys = state.order.slice(0, MAX_ROWS);
  if (!keys.length || state.start == null) return null;
  const start = state.start;
  const span = Math.max(1e-3, (state.end ?? start) - start);
  const x = (t) => LABEL + ((t - start) / span) * (WIDTH - LABEL - 10);
  const height = keys.length * ROW + 24;
  return (
    <figure className="timeline">
      <figcaption>Timeline of attempts ({(span * 1000).toFixed(0)} ms{state.order.length > MAX_ROWS ? `, first ${MAX_ROWS} steps` : ""})</figcaption>
      <svg width={WIDTH} height={height} role="img" aria-label="Gantt chart of step attempts">
        {keys.map((key, row) => {
          const s = state.steps[key];
          const y = row * ROW + 4;
          return (
            <g key={key} className={selected === key ? "row selected" : "row"} onClick={() => onSelect(key)}>
              <text x={4} y={y + 12} className="tl-label">{key.length > 26 ? `${key.slice(0, 25)}…` : key}</text>
              {s.attempts.map((a, i) => {
                const from = a.start ?? s.started ?? start;
                const to = a.end ?? state.end ?? from;
                return (
                  <rect
                    key={i}
                    x={x(from)}
                    y={y}
                    width={Math.max(2, x(to) - x(from))}
                    height={ROW - 5}
                    className={`bar state-${a.error || (a.status && a.status >= 400) ? "failed" : s.state}`}
                  >
                    <title>{`${key} attempt ${a.attempt}: ${a.end != null && a.start != null ? ((a.end - a.start) * 1000).toFixed(1) + " ms" : "running"}`}</title>
                  </rect>
                );
              })}
            </g>
          );
        })}
      </svg>
    </figure>
  );
});
