"""The headless heart of latent-explorer: models, data, latent operations, training, metrics.

Nothing under ``latent_explorer.core`` imports Qt; a test checks it.
"""
