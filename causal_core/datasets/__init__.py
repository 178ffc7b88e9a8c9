"""Data in: the bundled samples, the upload reader (checks before parsing, a capped child process,
table repairs), table profiles and role suggestions, and every simulated design with a known truth.
"""
