"""How far a result can be trusted: refutation tests, the method lab (methods compared on simulated
twins of the data), agreement across estimators, and sensitivity to unmeasured confounding.
"""
