"""The `newsflow` console script: `flows.cli` loaded behind a Ctrl-C guard.

Loading the CLI takes about half a second (typer, rich, pydantic); a Ctrl-C then printed a
20-line traceback. Once the CLI runs, its commands say it themselves (`flows.cli`).
"""

from __future__ import annotations

import sys

INTERRUPTED_BEFORE_THE_RUN = "interrupted before the run started: nothing was written"
# Set on a flow's log record that the CLI prints itself, as its closing line: kept off its console
CLI_SAYS_IT = "newsflow_cli_says_it"


def main() -> None:
    try:
        from flows.cli import app
    except KeyboardInterrupt:
        sys.stderr.write(f"error: {INTERRUPTED_BEFORE_THE_RUN}\n")
        raise SystemExit(130) from None
    app()
