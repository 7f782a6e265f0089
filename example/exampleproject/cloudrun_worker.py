"""The worker as a Cloud Run service: `python -m exampleproject.cloudrun_worker [flags]`.

A Cloud Run service must listen on $PORT, which a Temporal worker (it polls, it takes no
requests) does not by itself. This runs `manage.py run_temporal_worker` with the given
flags and its health probe on $PORT (`--health-bind`): the port opens before the worker
connects (Cloud Run's start-up probe passes), `/healthz` answers 503 while the worker
cannot reach Temporal and `/livez` 200 while its loop runs, for probes configured on the
service. Signal handling, graceful shutdown and the exit code are the command's own.
Deploy it with `--no-cpu-throttling` (polling needs CPU between requests) and
`--no-allow-unauthenticated --ingress=internal` (nobody needs to reach it).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
    from django.core.management import execute_from_command_line

    port = os.environ.get("PORT", "8080")
    execute_from_command_line(
        ["manage.py", "run_temporal_worker", f"--health-bind=0.0.0.0:{port}", *argv]
    )


if __name__ == "__main__":
    main(sys.argv[1:])
