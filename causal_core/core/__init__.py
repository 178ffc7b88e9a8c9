"""Core building blocks of the engine shared by every layer (data, formatting, ...)."""
