"""The API on a local port, in its own process, for the benchmarks: `python -m bench.serve PORT [WORKERS]`.

With WORKERS above 1 the API is served from that many forked processes, as `routines dev --workers` serves
it. The store's settings come from the environment the parent passes (the benchmark's DynamoDB Local); the
parent's SIGTERM ends it (and its workers).
"""

import signal
import sys
import threading

from routines.local.server import ApiServer
from routines.local.workers import Workers


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if workers == 1:
        ApiServer("127.0.0.1", port).start().thread.join()
        return
    served = Workers("127.0.0.1", port, workers).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.25) and not served.exited():
            pass
    finally:
        served.stop()


if __name__ == "__main__":
    main()
