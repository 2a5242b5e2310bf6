// Where each node of a flow's graph goes. Graphs up to DAGRE_LIMIT nodes are laid
// out by dagre (crossing reduction, compact placement); larger ones by `layered`, a
// linear-time layering (longest path from the sources), with each rank ordered once
// by the mean position of its predecessors: dagre needs seconds for a 500-step flow.
import dagre from "@dagrejs/dagre";

export const WIDTH = 190;
export const HEIGHT = 54;
export const DAGRE_LIMIT = 150;
const NODESEP = 24;
const RANKSEP = 36;

// The graph's edges plus one from each container (branch, loop, parallel, try) to the
// first node of each of its blocks.
function withBranches(graph) {
  const edges = graph.edges.map((e) => ({ ...e }));
  const hasIncoming = new Set(graph.edges.map((e) => e.target));
  for (const node of graph.nodes) {
    if (node.parent && !hasIncoming.has(node.id)) {
      edges.push({ source: node.parent, target: node.id, kind: "branch", label: "" });
    }
  }
  return edges;
}

function withDagre(graph, edges) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: NODESEP, ranksep: RANKSEP });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) g.setNode(node.id, { width: WIDTH, height: HEIGHT });
  for (const edge of edges) g.setEdge(edge.source, edge.target);
  dagre.layout(g);
  return graph.nodes.map((node) => {
    const at = g.node(node.id);
    return { node, x: at.x - WIDTH / 2, y: at.y - HEIGHT / 2 };
  });
}

export function layered(graph, edges) {
  const index = new Map(graph.nodes.map((n, i) => [n.id, i]));
  const out = graph.nodes.map(() => []);
  const incoming = graph.nodes.map(() => []);
  for (const e of edges) {
    const s = index.get(e.source);
    const t = index.get(e.target);
    if (s === undefined || t === undefined || s === t) continue;
    out[s].push(t);
    incoming[t].push(s);
  }
  // Longest-path ranks in topological order (Kahn); nodes on a cycle go last.
  const rank = new Array(graph.nodes.length).fill(0);
  const waiting = incoming.map((list) => list.length);
  const queue = [];
  waiting.forEach((n, i) => n === 0 && queue.push(i));
  let seen = 0;
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head];
    seen++;
    for (const w of out[v]) {
      rank[w] = Math.max(rank[w], rank[v] + 1);
      if (--waiting[w] === 0) queue.push(w);
    }
  }
  if (seen < graph.nodes.length) {
    const last = Math.max(0, ...rank) + 1;
    waiting.forEach((n, i) => n > 0 && (rank[i] = last));
  }
  const ranks = [];
  graph.nodes.forEach((_, i) => (ranks[rank[i]] ||= []).push(i));
  const slot = new Array(graph.nodes.length).fill(0);
  const x = new Array(graph.nodes.length).fill(0);
  for (const members of ranks) {
    if (!members) continue;
    const key = (i) => (incoming[i].length ? incoming[i].reduce((sum, p) => sum + x[p], 0) / incoming[i].length : slot[i]);
    members.sort((a, b) => key(a) - key(b) || a - b);
    const span = (members.length - 1) * (WIDTH + NODESEP);
    members.forEach((i, k) => {
      slot[i] = k;
      x[i] = k * (WIDTH + NODESEP) - span / 2;
    });
  }
  return graph.nodes.map((node, i) => ({ node, x: x[i], y: rank[i] * (HEIGHT + RANKSEP) }));
}

export function layout(graph) {
  const edges = withBranches(graph);
  const nodes = graph.nodes.length <= DAGRE_LIMIT ? withDagre(graph, edges) : layered(graph, edges);
  return { nodes, edges };
}
