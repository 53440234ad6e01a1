"""The playground's widgets, by screen area: each holds what it shows and posts what happened."""

from __future__ import annotations

from typing import TypedDict


class WidgetOptions(TypedDict, total=False):
    """What a widget of ours passes on to Textual's Widget (or ScrollView) as it is made."""

    name: str | None
    id: str | None
    classes: str | None
    disabled: bool
