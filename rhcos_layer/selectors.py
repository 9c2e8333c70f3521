"""Kubernetes label selectors (metav1.LabelSelector), evaluated the way the API server and the MCO do.

One evaluator for the whole tool: which MachineConfigs a pool merges (``machineConfigSelector``),
which nodes are a pool's (``nodeSelector``), which custom pools inherit the worker configs. The
rules follow kubernetes ``staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go``
(LabelSelectorAsSelector) and ``pkg/labels/selector.go`` (NewRequirement):

* a missing (null) selector selects nothing, an empty one (``{}``) everything;
* ``matchLabels`` entries are equality requirements; ``matchExpressions`` take ``In``, ``NotIn``,
  ``Exists``, ``DoesNotExist`` and nothing else;
* ``In`` / ``NotIn`` need at least one value, ``Exists`` / ``DoesNotExist`` none;
* keys are qualified names (``[prefix/]name``), values label values: anything else is an error,
  as it is for the MCO's render controller, which then renders nothing for the pool.

The data comes from the cluster and may be anything: every malformed shape raises InvalidSelector
(never a TypeError), and evaluation is linear in the selector's size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from .errors import InvalidInput

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Shown in messages: a hostile selector must not make a multi-megabyte error line.
_SHOWN = 80


class InvalidSelector(InvalidInput):
    """A label selector the API server would reject (so the MCO cannot use it either)."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _check_key(key: object, where: str) -> str:
    """A qualified name, as IsQualifiedName checks it (apimachinery pkg/util/validation)."""
    if not isinstance(key, str):
        raise InvalidSelector(f"{where}: key {_short(key)} is not a string")
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN_RE.match(prefix)):
        raise InvalidSelector(f"{where}: key {_short(key)}: the prefix must be a DNS subdomain")
    if not name or len(name) > 63 or not _NAME_RE.match(name):
        raise InvalidSelector(f"{where}: key {_short(key)}: not a qualified name (at most 63 letters, digits,"
                              " '-', '_', '.', starting and ending with a letter or digit)")
    return key


def _check_value(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidSelector(f"{where}: value {_short(value)} is not a string")
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise InvalidSelector(f"{where}: value {_short(value)}: not a label value (at most 63 letters, digits,"
                              " '-', '_', '.', starting and ending with a letter or digit)")
    return value


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist (matchLabels entries are In with one value)
    values: Tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        return not present

    def query(self) -> Optional[str]:
        """This requirement in labelSelector syntax; None when that syntax cannot say it (an empty
        value among several inside ``in (...)``): the caller then filters on its side."""
        if self.operator in ("In", "NotIn"):
            if self.operator == "In" and len(self.values) == 1:
                # "key=" selects an empty value: the nodeSelector of every built-in pool is role: ""
                return f"{self.key}={self.values[0]}"
            if "" in self.values:
                return None
            return f"{self.key} {self.operator.lower()} ({','.join(self.values)})"
        return self.key if self.operator == "Exists" else f"!{self.key}"


@dataclass(frozen=True)
class Selector:
    """A parsed selector: all requirements must hold; ``nothing`` for a null selector."""

    requirements: Tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.nothing and all(r.matches(labels) for r in self.requirements)

    @property
    def everything(self) -> bool:
        return not self.nothing and not self.requirements

    def query(self) -> Optional[str]:
        """A labelSelector query that selects at least what ``matches`` does (None for a null selector,
        which selects nothing). Exact unless a requirement cannot be written (see Requirement.query)."""
        if self.nothing:
            return None
        return ",".join(q for q in (r.query() for r in self.requirements) if q is not None)

    def describe(self) -> str:
        if self.nothing:
            return "nothing (no selector)"
        if not self.requirements:
            return "everything (empty selector)"
        return ", ".join(r.query() or f"{r.key} {r.operator} {list(r.values)}" for r in self.requirements)


def parse(selector: Any, where: str = "selector") -> Selector:
    """A metav1.LabelSelector from its JSON form; InvalidSelector when the API server would refuse it."""
    if selector is None:
        return Selector(nothing=True)
    if not isinstance(selector, Mapping):
        raise InvalidSelector(f"{where}: expected an object with matchLabels / matchExpressions,"
                              f" got {type(selector).__name__}")
    requirements = []
    match_labels = selector.get("matchLabels")
    if match_labels is not None:
        if not isinstance(match_labels, Mapping):
            raise InvalidSelector(f"{where}.matchLabels: expected a map of label to value")
        for key, value in match_labels.items():
            requirements.append(Requirement(_check_key(key, f"{where}.matchLabels"), "In",
                                            (_check_value(value, f"{where}.matchLabels"),)))
    expressions = selector.get("matchExpressions")
    if expressions is not None:
        if not isinstance(expressions, list):
            raise InvalidSelector(f"{where}.matchExpressions: expected a list")
        for index, expr in enumerate(expressions):
            at = f"{where}.matchExpressions[{index}]"
            if not isinstance(expr, Mapping):
                raise InvalidSelector(f"{at}: expected an object with key, operator, values")
            operator = expr.get("operator")
            if operator not in OPERATORS:
                raise InvalidSelector(f"{at}: {_short(operator)} is not a valid label selector operator"
                                      f" ({', '.join(OPERATORS)})")
            key = _check_key(expr.get("key"), at)
            values = expr.get("values")
            if values is None:
                values = []
            if not isinstance(values, list):
                raise InvalidSelector(f"{at}.values: expected a list of strings")
            if operator in ("In", "NotIn") and not values:
                raise InvalidSelector(f"{at}: for 'In', 'NotIn' operators, values set can't be empty")
            if operator in ("Exists", "DoesNotExist") and values:
                raise InvalidSelector(f"{at}: values set must be empty for 'Exists', 'DoesNotExist'")
            checked = tuple(dict.fromkeys(_check_value(v, f"{at}.values") for v in values))
            requirements.append(Requirement(key, str(operator), checked))
    return Selector(tuple(requirements))


def matches(selector: Any, labels: Mapping[str, str], where: str = "selector") -> bool:
    """Whether ``selector`` (JSON form) selects an object with ``labels``; raises InvalidSelector."""
    return parse(selector, where).matches(labels)
