"""Analyses beyond one effect estimate: mixtures of discrete sources, mechanism learning
(front-door deconfounded classifiers) and stable learning.
"""
