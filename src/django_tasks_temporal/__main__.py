"""`python -m django_tasks_temporal devserver`: the package's own command line.

It needs no Django project: a Temporal dev server set up for this backend, started from
the installed package (the `devserver` extra ships the `temporal` binary).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from django_tasks_temporal.devserver import (
    DevServerError,
    add_arguments,
    run_dev_server,
    ui_port_for,
)

PROG = "python -m django_tasks_temporal"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    devserver = commands.add_parser(
        "devserver",
        help="Run a Temporal dev server for this backend in the foreground.",
        description="Run `temporal server start-dev` on 127.0.0.1 with this backend's "
        "search attributes, one task-queue partition and room for batch operations, "
        "state kept in a file; Ctrl-C or SIGTERM stops it.",
    )
    add_arguments(devserver)
    args = parser.parse_args(argv)
    try:
        ui_port = ui_port_for(args.port, args.ui_port, headless=args.headless)
        return run_dev_server(
            port=args.port,
            ui_port=ui_port,
            db_filename=args.db_filename,
            announce=lambda line: print(line, flush=True),
        )
    except DevServerError as e:
        print(f"{PROG} devserver: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
