"""Matching estimators (exact and nearest-neighbour/propensity-score); ``_shared`` holds the
matching maths both use.
"""
