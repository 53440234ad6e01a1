"""The playground's widgets, by screen area: each holds what it shows and posts what happened."""
