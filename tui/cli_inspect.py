"""CLI commands that look inside the network (filled in by the inspection work)."""
from __future__ import annotations

import argparse


def add_inspect_commands(sub: argparse._SubParsersAction) -> None:
    """Register the inspection subcommands on the main parser."""


def run_inspect_command(args: argparse.Namespace) -> int:
    raise SystemExit(f"unknown command {args.command}")
