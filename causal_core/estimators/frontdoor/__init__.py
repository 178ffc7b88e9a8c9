"""Front-door estimators: effects through a fully mediating mechanism under hidden confounding.
"""
