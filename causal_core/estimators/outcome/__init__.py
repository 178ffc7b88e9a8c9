"""Estimators built on an outcome model: regression adjustment and doubly robust (AIPW).
"""
