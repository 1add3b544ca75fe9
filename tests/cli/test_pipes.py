"""The `routines` command piped into a reader that stops early (`| head`): no traceback."""

import subprocess

from tests.scheduler.test_cli import ROUTINES


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback() -> None:
    command = " ".join([*ROUTINES, "cron", "'*/5 * * * *'", "--next", "20000"])
    done = subprocess.run(f"{command} | head -n 1", shell=True, capture_output=True, text=True, timeout=60)
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
