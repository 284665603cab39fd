"""``OUT/validate.json``: the fields ``kinefake audit`` reads back from it, and their types.

A corpus may come from anyone, so its ``validate.json`` is checked against
:data:`VALIDATE_REPORT` before a value of it reaches the report: a field of another type
(a string where a number belongs) makes the whole file refused, with the first misfit named.
Fields not listed here are not read.
"""

from __future__ import annotations

from dataclasses import dataclass

NUMBER = "number"  # an int or a float, not a bool
OPTIONAL_NUMBER = (NUMBER, None)


@dataclass(frozen=True)
class Each:
    """A JSON object with any keys, each value of type ``spec``."""

    spec: object


#: Spec: a type, :data:`NUMBER`, None, a tuple of alternatives, a dict of required keys,
#: ``[spec]`` (a list of such), or :class:`Each`.
VALIDATE_REPORT = {
    "passed": bool,
    "judge": (str, None),
    "fakes_checked": int,
    "problems": [str],
    "outside_mask": {"median_grey": OPTIONAL_NUMBER, "failed": [str]},
    "regenerated": {"samples": [{"regenerated": bool}], "failed": [str]},
    "headpose": Each({"auroc": OPTIONAL_NUMBER}),
    "by_operator": Each(Each(OPTIONAL_NUMBER)),
    "fakes": [
        {
            "key": str,
            "recovered": OPTIONAL_NUMBER,
            "flow_recovered": OPTIONAL_NUMBER,
            "outside_grey": NUMBER,
            "outside_worst_block": NUMBER,
            "coupling_drop": OPTIONAL_NUMBER,
        }
    ],
}


def misfit(value, spec=VALIDATE_REPORT, where: str = "validate.json") -> str | None:
    """Where ``value`` (parsed JSON) first departs from ``spec``, or None when it fits."""
    if isinstance(spec, tuple):
        if any(misfit(value, alternative, where) is None for alternative in spec):
            return None
        return f"{where}: expected one of {_names(spec)}, got {type(value).__name__}"
    if spec is None:
        return None if value is None else f"{where}: expected null, got {type(value).__name__}"
    if spec == NUMBER:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"{where}: expected a number, got {type(value).__name__}"
    if isinstance(spec, type):
        ok = isinstance(value, spec) and (spec is bool or not isinstance(value, bool))
        return None if ok else f"{where}: expected {spec.__name__}, got {type(value).__name__}"
    if isinstance(spec, list):
        if not isinstance(value, list):
            return f"{where}: expected a list, got {type(value).__name__}"
        return next((m for i, v in enumerate(value) if (m := misfit(v, spec[0], f"{where}[{i}]"))), None)
    if not isinstance(value, dict):
        return f"{where}: expected an object, got {type(value).__name__}"
    if isinstance(spec, Each):
        return next((m for k, v in value.items() if (m := misfit(v, spec.spec, f"{where}.{k}"))), None)
    for key, sub in spec.items():
        if key not in value:
            return f"{where}: no {key!r}"
        if found := misfit(value[key], sub, f"{where}.{key}"):
            return found
    return None


def _names(alternatives: tuple) -> str:
    return ", ".join("null" if a is None else a if isinstance(a, str) else a.__name__ for a in alternatives)
