"""Diagnostics that never estimate an effect: covariate balance before and after weighting,
subgroup tables and reversals, identification checks of the chosen roles, and uplift curves.
"""
