"""The one widget for a method option, generated from its :class:`causal_core.OptionSpec`.

Every page that shows method options (Estimate, Heterogeneity) draws them with
:func:`option_widget`, so the spec's kind, bounds (``low``/``high`` with
``low_inclusive``/``high_inclusive``), ``None`` (``nullable``/``none_means``),
``choices`` and ``also`` values are followed in one place, and what the widget
returns is a value :func:`causal_core.core.options.validate_options` accepts.

Import as ``from pages._widgets import option_widget`` (see ``pages/_state.py``).
"""
from __future__ import annotations

import math
from typing import Any

import streamlit as st

import causal_core as cc
from causal_core.nuisance.models import MODEL_CHOICES

__all__ = ["option_widget", "option_label"]

_DEFAULT_MODEL = "default"


def option_label(spec: cc.OptionSpec) -> str:
    """The label an option's widget shows: its name in words."""
    return spec.name.replace("_", " ").capitalize()


def _numeric_bounds(spec: cc.OptionSpec) -> tuple[float | int | None, float | int | None]:
    """``min_value`` / ``max_value`` for a number input, exclusive bounds moved just inside."""
    low, high = spec.low, spec.high
    if spec.kind == "int":
        if low is not None:
            low = int(math.floor(low)) + 1 if (not spec.low_inclusive and float(low).is_integer()) else int(math.ceil(low))
        if high is not None:
            high = int(math.ceil(high)) - 1 if (not spec.high_inclusive and float(high).is_integer()) else int(math.floor(high))
        return low, high
    if low is not None:
        low = float(low) if spec.low_inclusive else math.nextafter(float(low), math.inf)
    if high is not None:
        high = float(high) if spec.high_inclusive else math.nextafter(float(high), -math.inf)
    return low, high


def _help(spec: cc.OptionSpec, empty_means: str | None) -> str:
    text = spec.help
    if empty_means:
        text += f" Leave empty for {empty_means}."
    return text


def _number(spec: cc.OptionSpec, label: str, key: str, value: Any, disabled: bool) -> Any:
    low, high = _numeric_bounds(spec)
    empty_means = (spec.none_means or "automatic") if spec.accepts_none else None
    if value is not None:
        value = int(value) if spec.kind == "int" else float(value)
        if low is not None and value < low:
            value = low
        if high is not None and value > high:
            value = high
    elif not spec.accepts_none:
        value = low if low is not None else (0 if spec.kind == "int" else 0.0)
    common = dict(min_value=low, max_value=high, key=key, help=_help(spec, empty_means), disabled=disabled,
                  placeholder=empty_means or None)
    if spec.kind == "int":
        return st.number_input(label, value=value, step=1, **common)
    return st.number_input(label, value=value, format="%g", **common)


def option_widget(spec: cc.OptionSpec, *, key: str, value: Any, label: str | None = None,
                  disabled: bool = False) -> Any:
    """Draw the widget of one method option and return its value (valid for the spec).

    Parameters
    ----------
    spec : OptionSpec
        The option as the method's registry entry declares it.
    key : str
        The widget key (for example ``est_opt_<method>_<option>``).
    value : any
        The value to show first (the stored choice, or ``spec.default``).
    label : str, optional
        Defaults to :func:`option_label`.

    Notes
    -----
    ``bool`` is a checkbox, ``choice`` and ``model`` a select box (with
    ``None`` offered when the spec accepts it, shown as ``none_means``),
    ``int`` and ``float`` a number input within the declared bounds, empty
    meaning ``None`` when the spec accepts it. A numeric option's ``also``
    values (such as 0 replicates for an analytic fallback) are offered by a
    checkbox beside the number (key ``<key>_also``).
    """
    label = option_label(spec) if label is None else label
    if spec.kind == "bool":
        return st.checkbox(label, value=bool(value), key=key, help=spec.help, disabled=disabled)
    if spec.kind in ("choice", "model"):
        choices: list[Any] = list(spec.choices) if spec.choices else (list(MODEL_CHOICES) if spec.kind == "model" else [])
        choices += [extra for extra in spec.also if extra not in choices]
        none_label = spec.none_means or "default"
        if spec.kind == "model" and value is None and _DEFAULT_MODEL in choices:
            value = _DEFAULT_MODEL  # the named default model stands for None
        if value is None and None not in choices:
            if not spec.accepts_none:
                value = choices[0]
            else:
                choices = [None] + choices
        if value not in choices:  # a stored value the spec refuses (say, from an edited analysis file) is shown
            choices = [value] + choices  # as it is, so that the run says why it is refused instead of hiding it
        chosen = st.selectbox(label, choices, index=choices.index(value), key=key, help=spec.help, disabled=disabled,
                              format_func=lambda v: none_label if v is None else str(v))
        if spec.kind == "model" and chosen == _DEFAULT_MODEL and spec.default is None:
            return None
        return chosen
    if spec.kind in ("int", "float"):
        if spec.also:
            extra = value if value in spec.also else spec.also[0]
            use_extra = st.checkbox(f"{label}: {spec.also_means or extra}", value=value in spec.also,
                                    key=f"{key}_also", disabled=disabled)
            if use_extra:
                return extra
            if value in spec.also:
                value = None if spec.accepts_none else spec.low
        return _number(spec, label, key, value, disabled)
    return value
