"""Baseline estimators that adjust for nothing (difference in means), the reference point of the
app's method list.
"""
