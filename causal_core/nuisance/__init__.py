"""Nuisance models shared by the estimators: the named propensity and outcome models (created and
cloned by name) and the covariate feature expansions they are fitted on.
"""
