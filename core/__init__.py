"""Headless core of lyrics-tui.

corpus -> tokens/vocabulary -> batches -> model -> trainer -> sampler.

Nothing here imports a UI library (a test enforces it). Importing this package is cheap:
torch is imported only by the modules that need it, so the CLI's fast generate path and the
TUI's first frame do not pay for it.
"""
