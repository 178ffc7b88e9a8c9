"""The roles an analyst assigns to the columns of a table."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from causal_core.core.errors import CausalInputError, plain

__all__ = ["Roles", "LIST_ROLES", "SINGLE_ROLES"]

#: Roles that hold a list of columns.
LIST_ROLES = ("confounders", "instruments", "mechanisms", "proxies", "subgroups", "exclusions")
#: Roles that hold at most one column.
SINGLE_ROLES = ("treatment", "outcome", "selection", "shadow")


@dataclass(frozen=True)
class Roles:
    """What each column of the table is.

    Parameters
    ----------
    treatment, outcome : str
        Column names of the treatment and the outcome.
    confounders : list of str
        Pre-treatment covariates that block every back-door path.
    instruments : list of str
        Instruments (IV methods): they move the treatment and reach the outcome only through it.
    mechanisms : list of str
        Mediators on the treatment -> outcome path (front-door methods).
    proxies : list of str
        Observed proxies of a hidden discrete confounder (mixture methods).
    subgroups : list of str
        Columns whose strata are examined separately (Simpson tables, subgroup effects).
    exclusions : list of str
        Heckman's exclusion-restriction variables: they move whether the outcome was
        recorded (selection) but not the outcome itself (``heckman``).
    selection : str or None
        0/1 indicator of whether the outcome was recorded (selection-bias methods).
    shadow : str or None
        Shadow variable for outcome-dependent selection.
    treated_level : Any
        The treatment value that counts as "treated". ``None`` accepts 0/1 or
        False/True treatments, where 1/True is treated.
    """

    treatment: str
    outcome: str
    confounders: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    mechanisms: tuple[str, ...] = ()
    proxies: tuple[str, ...] = ()
    subgroups: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    selection: str | None = None
    shadow: str | None = None
    treated_level: Any = None

    def __post_init__(self) -> None:
        for name in LIST_ROLES:
            value = getattr(self, name)
            if value is None:
                value = ()
            if isinstance(value, str):
                value = (value,)
            value = tuple(value)
            for column in value:
                if not isinstance(column, str):
                    raise CausalInputError(
                        f"Role '{name}' must list column names as strings; got {plain(column)!r}."
                    )
            object.__setattr__(self, name, value)
        for name in ("treatment", "outcome"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise CausalInputError(f"Role '{name}' must name one column; got {plain(value)!r}.")
        for name in ("selection", "shadow"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise CausalInputError(f"Role '{name}' must name one column or be None; got {plain(value)!r}.")

    def assignments(self) -> list[tuple[str, str]]:
        """Every (role, column) pair, in a stable order."""
        pairs: list[tuple[str, str]] = []
        for f in fields(self):
            if f.name == "treated_level":
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            for column in (value,) if isinstance(value, str) else value:
                pairs.append((f.name, column))
        return pairs

    def columns(self) -> list[str]:
        """All columns used in any role, without repeats, in a stable order."""
        seen: dict[str, None] = {}
        for _, column in self.assignments():
            seen.setdefault(column, None)
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (lists, not tuples) for saving an analysis."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        if hasattr(out["treated_level"], "item"):
            out["treated_level"] = out["treated_level"].item()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Roles":
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise CausalInputError(f"Unknown role name(s) {sorted(unknown)}; known roles are {sorted(known)}.")
        return cls(**data)
