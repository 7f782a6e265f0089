"""The worker as a Cloud Run service: `python -m exampleproject.cloudrun_worker [flags]`.

A Cloud Run service must listen on $PORT, which a Temporal worker (it polls, it takes no
requests) does not. This answers 200 on $PORT from a daemon thread for as long as the
process lives, then runs `manage.py run_temporal_worker` with the given flags in this
process: its signal handling, graceful shutdown and exit code are the command's own.
Deploy it with `--no-cpu-throttling` (polling needs CPU between requests) and
`--no-allow-unauthenticated --ingress=internal` (nobody needs to reach it).
"""

from __future__ import annotations

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class AliveHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:
        pass  # Cloud Run's probes would drown the worker's task log


def serve_health(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("0.0.0.0", port), AliveHandler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def main(argv: list[str]) -> None:
    # Listen first: Cloud Run's startup probe must not wait for Django and Temporal.
    serve_health(int(os.environ.get("PORT", "8080")))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", "run_temporal_worker", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
