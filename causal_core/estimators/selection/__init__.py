"""Estimators for selection bias: Heckman selection, inverse probability of selection weighting
and the shadow-variable method.
"""
