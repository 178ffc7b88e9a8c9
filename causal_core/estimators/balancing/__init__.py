"""Balancing-weights estimators that solve for weights directly: entropy balancing (its dual in
``_entropy_dual``), approximate residual balancing and confounder balancing.
"""
