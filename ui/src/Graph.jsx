// A flow's graph, laid out by layout.js and drawn by React Flow (pan, zoom, click).
// Nodes are coloured by the step state given in `states` (step name -> state).
import { memo, useEffect, useMemo, useRef } from "react";
import { ReactFlow, Background, Controls, Handle, Position } from "@xyflow/react";
import { DAGRE_LIMIT, HEIGHT, WIDTH, layout } from "./layout.js";

export function stepName(key) {
  // "parent/child[3]" -> "child": the graph's nodes are the flow's statements.
  const last = String(key).split("/").pop();
  return last.replace(/\[[^\]]*\]$/g, "").replace(/\[[^\]]*\]/g, "");
}

const StepNode = memo(function StepNode({ data }) {
  const { node, state } = data;
  const sub = node.kind === "step" ? [node.method, node.service, node.path].filter(Boolean).join(" ") : "";
  return (
    <div className={`node kind-${node.kind.replace(/\s/g, "-")} state-${state || "none"}`} data-step={node.step || undefined}>
      <Handle type="target" position={Position.Top} />
      <div className="node-label">{node.label}</div>
      <div className="node-sub">{sub || (state ? "" : node.kind)}{state ? ` · ${state}` : ""}</div>
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
});

const nodeTypes = { flowc: StepNode };

export function FlowGraph({ graph, states, onSelect, selected }) {
  // When the graph's data arrived, and (data-drawn-ms) how long layout and first paint took.
  const arrived = useRef(performance.now());
  const box = useRef(null);
  const laid = useMemo(() => {
    const start = performance.now();
    const result = layout(graph);
    result.ms = performance.now() - start;
    return result;
  }, [graph]);
  useEffect(() => {
    // The second frame callback runs after the first frame with the nodes was painted.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        if (!box.current) return;
        box.current.dataset.drawnMs = (performance.now() - arrived.current).toFixed(1);
        box.current.dataset.layoutMs = laid.ms.toFixed(1);
      }),
    );
  }, [laid]);
  const nodes = useMemo(
    () =>
      laid.nodes.map(({ node, x, y }) => {
        const state = node.step && states ? states[node.step] || "pending" : undefined;
        return {
          id: node.id,
          type: "flowc",
          position: { x, y },
          data: { node, state },
          selected: selected === node.id,
          ariaLabel: `${node.kind} ${node.label}${state ? `, ${state}` : ""}`,
          width: WIDTH,
          height: HEIGHT,
        };
      }),
    [laid, states, selected],
  );
  const edges = useMemo(
    () =>
      laid.edges.map((edge, i) => ({
        id: `e${i}`,
        source: edge.source,
        target: edge.target,
        label: edge.label || undefined,
        className: `edge-${edge.kind}`,
      })),
    [laid],
  );
  // The dotted background costs a software-rendered page dearly at the least zoom.
  const large = graph.nodes.length > DAGRE_LIMIT;
  return (
    <div ref={box} className="graph" role="region" aria-label={`graph of flow ${graph.flow}`} data-testid="graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodeClick={(_, n) => onSelect && onSelect(n.id)}
        nodesDraggable={false}
        nodesConnectable={false}
        fitView
        fitViewOptions={{ maxZoom: 1 }}
        minZoom={0.05}
        onlyRenderVisibleElements
        proOptions={{ hideAttribution: true }}
      >
        {!large && <Background />}
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
