"""Heterogeneous effects: meta-learners, TARNet and GMM subgroups (its mixture maths in
``_gmm``).
"""
