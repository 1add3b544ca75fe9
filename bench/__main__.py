"""`python -m bench`: its own DynamoDB Local (in memory), every benchmark (one JSON line each), RESULTS.md."""

import contextlib
import json
import os
import sys
import time

from bench import database, machine


def main() -> None:
    started = time.monotonic()
    before = machine.describe()
    dynamodb = database.start()
    try:
        from routines.local.schema import create_tables

        create_tables()
        from bench import suite

        out = sys.stdout
        # The app's own log and metric lines would bury the JSON lines: drop them (an error still raises).
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            results = suite.run_all(suite.FULL, lambda result: print(json.dumps(result), file=out, flush=True))
    finally:
        dynamodb.stop()
    from bench import report

    path = report.write(results, before, machine.load(), time.monotonic() - started)
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
