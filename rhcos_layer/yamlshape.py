"""Bounds on the shape of a YAML document, checked before it is composed.

PyYAML composes nested collections recursively (a few thousand ``[`` exhaust Python's stack)
and lets an alias stand for a whole subtree (a few lines can name 10^9 nodes once expanded).
The event stream is flat, so walking it first bounds depth, node count and aliases with no
recursion and no expansion, and the error can name the line.
"""

from __future__ import annotations

from typing import Optional


class ShapeError(Exception):
    """The document goes past a bound; ``line`` is 1-based."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def check(text: str, *, max_depth: int, max_nodes: int, aliases: bool = True) -> None:
    """Raise ShapeError past the bounds, yaml.YAMLError on a syntax error.

    ``aliases=False`` refuses ``*alias`` outright, for documents that never need one.
    """
    import yaml

    depth = 0
    nodes = 0
    line: Optional[int] = None
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else line
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > max_depth:
                raise ShapeError(line or 1, f"nested deeper than {max_depth} levels")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent) and not aliases:
            raise ShapeError(line or 1, f"YAML alias *{event.anchor} is not allowed here")
        if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent,
                              yaml.AliasEvent)):
            nodes += 1
            if nodes > max_nodes:
                raise ShapeError(line or 1, f"more than {max_nodes} YAML nodes")
