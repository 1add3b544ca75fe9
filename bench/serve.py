"""The API on a local port, in its own process, for the latency benchmark: `python -m bench.serve PORT`.

The store's settings come from the environment the parent passes (the benchmark's DynamoDB Local);
the parent's SIGTERM ends it.
"""

import sys

from routines.local.server import ApiServer


def main() -> None:
    server = ApiServer("127.0.0.1", int(sys.argv[1])).start()
    server.thread.join()


if __name__ == "__main__":
    main()
