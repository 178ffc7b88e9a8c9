"""Weighting estimators built on a propensity model: inverse probability weighting and D2VD.
"""
