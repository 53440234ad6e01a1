"""Views over core/: the Textual playground (tui.app) and the command line (tui.cli)."""

from lyrics_tui.core import tuning

# Both front ends generate with numpy beside a training torch: one BLAS thread, and it must be
# asked for before anything loads numpy (the command line's own imports do), so here, first.
tuning.for_generation()
