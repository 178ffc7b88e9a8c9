"""Hidden discrete confounding: effects adjusted for a latent mixture recovered from proxies.
"""
