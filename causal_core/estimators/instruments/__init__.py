"""Instrumental-variable estimators: linear two-stage least squares and neural IV (its torch
networks in ``_torch_iv``, imported only when the method runs).
"""
