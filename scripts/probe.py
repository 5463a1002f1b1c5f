"""Exit 0 when a TCP service answers on 127.0.0.1: `python scripts/probe.py postgres|redis`."""

import socket
import sys

PORTS = {"postgres": 5432, "redis": 6379}

try:
    with socket.create_connection(("127.0.0.1", PORTS[sys.argv[1]]), timeout=1):
        pass
except OSError:
    sys.exit(1)
