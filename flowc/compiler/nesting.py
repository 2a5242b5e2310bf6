"""How deep a syntax tree nests, measured while it is built and after.

Every kind of nesting is bounded so that deep input fails at once, at the
place where it became too deep (E0007), before any deep tree exists and long
before a recursive phase could overflow the interpreter's stack.  The parser
(``parser.py``) bounds what grows its LALR stack: brackets, blocks, unary
operators, conditionals, types, interpolations.  Two things do not grow that
stack, and this module measures them:

* Chains that grow to the left — ``a.b.c``, ``f().g()``, ``x[0][1]``,
  ``1 + 2 + 3`` — are reduced one link at a time with the stack staying
  shallow.  ``NestingMeter.nested`` gives each node the builder makes for
  them (and for parentheses) a depth, one more than its deepest child's, and
  the builder stops the parse at the first one deeper than ``MAX_DEPTH``.
  Depths are kept by node identity, with the node held so that its id cannot
  be reused while the entry lives.
* Parentheses leave no node behind, yet ``((((x))))`` nests.  The meter
  remembers how many pairs enclose each node directly (``paren_layers``), and
  ``check_tree`` — the walk over the finished tree, with an explicit stack —
  counts them as levels.
"""

from __future__ import annotations

from typing import Final

from flowc.compiler import ast, messages
from flowc.compiler.diagnostics import ParseFailure

#: The deepest the syntax tree may nest, parentheses included.
MAX_DEPTH: Final = 256
#: The most entries the parser's stack may hold (interpolations included).  A
#: level of nesting takes one to four (a parenthesis one, an `if` block three,
#: a conditional four), so this rejects nothing the tree limit would accept.
MAX_PARSER_STACK: Final = 5 * MAX_DEPTH

_Entries = dict[int, tuple[ast.Node, int]]


class NestingMeter:
    """The depths of one parse's chain nodes and its parentheses."""

    def __init__(self) -> None:
        self.depths: _Entries = {}
        self.paren_layers: _Entries = {}

    def nested(self, node: ast.Node, children: tuple[object, ...]) -> bool:
        """Record ``node`` one level below the deepest of ``children``; whether
        that is still within ``MAX_DEPTH``."""
        below = 1  # a child of unknown depth counts as a leaf
        for child in children:
            entry = self.depths.get(id(child))
            if entry is not None and entry[0] is child and entry[1] > below:
                below = entry[1]
        self.depths[id(node)] = (node, below + 1)
        return below < MAX_DEPTH

    def parenthesised(self, inner: ast.Node, node: ast.Node) -> None:
        """``node`` is ``inner`` with one more pair of parentheses around it."""
        entry = self.paren_layers.get(id(inner))
        layers = entry[1] if entry is not None and entry[0] is inner else 0
        self.paren_layers[id(node)] = (node, layers + 1)


def check_tree(root: ast.Node, parens: _Entries) -> None:
    """Refuse a tree deeper than ``MAX_DEPTH``, counting each pair of parentheses
    (``NestingMeter.paren_layers``) as a level."""
    stack: list[tuple[ast.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        entry = parens.get(id(node))
        if entry is not None and entry[0] is node:
            depth += entry[1]
        if depth > MAX_DEPTH:
            raise ParseFailure(messages.TOO_DEEP(node.span, limit=MAX_DEPTH))
        for child in ast.iter_children(node):
            stack.append((child, depth + 1))
