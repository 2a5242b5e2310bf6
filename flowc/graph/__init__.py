"""Pictures of flows: the graph model built from the IR and its renderers."""
