"""Where work runs: the background job runner used by the app (a scale-out backend would go here).
"""
