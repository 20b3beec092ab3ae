"""The ``tradeactors`` console script: a client command loads the client alone.

``status``, ``watch``, ``submit`` and the other client commands talk to a running runtime
over ZeroMQ; importing the runtime for them cost most of each call. They are parsed and run
by ``tools.client_cli`` alone; every other command (and ``--help``) goes to ``tools.cli``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    from tools import cli_types, client_cli  # noqa: PLC0415 (the light path first)

    if given[:1] and given[0] in client_cli.CLIENT_COMMANDS:
        parser = cli_types.CliParser(prog="tradeactors")
        client_cli.add_commands(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(given)
        return int(args.handler(args))
    from tools import cli  # noqa: PLC0415 (the runtime, for every other command)

    return cli.main(given)


if __name__ == "__main__":
    sys.exit(main())
