"""`python -m flowc.demo`: run the demo API by hand (see `flowc.demo.server` for endpoints).

It binds the socket first, prints one line `flowc demo server listening on URL` on
stdout (the launcher reads the URL from it; with `--port 0` it is the only way to learn
the port), then serves until Ctrl-C or SIGTERM. `--exit-on-stdin-eof` makes it also stop
when its parent closes the pipe, so a crashed test run leaves no orphan server behind.
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_PORT = 8081


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flowc.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port, 0 for any free one (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn log level (default warning)",
    )
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="stop when standard input is closed"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from flowc.demo.server import base_url, listening_socket, run_server
    except ImportError as exc:
        print(
            f"flowc demo: the demo server needs the 'demo' extra ({exc.name} is missing): "
            "pip install 'flowc[demo]'",
            file=sys.stderr,
        )
        return 2
    try:
        sock = listening_socket(args.host, args.port)
    except OSError as exc:
        print(
            f"flowc demo: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    print(f"flowc demo server listening on {base_url(sock)}", flush=True)
    run_server(sock, args.log_level, exit_on_stdin_eof=args.exit_on_stdin_eof)
    return 0


if __name__ == "__main__":
    sys.exit(main())
