"""python -m lyrics_tui.tui.cli (what torchrun and textual-serve start)."""

import sys

from lyrics_tui.tui.cli import main

sys.exit(main())
