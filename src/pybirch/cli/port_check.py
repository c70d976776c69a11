"""Is the web server's port free? Checked before anything starts, with advice if it is not."""

from __future__ import annotations

import errno
import socket

#: How many ports after a taken one are tried for a suggestion.
SUGGESTION_RANGE = 20


class PortTaken(OSError):
    """Another program listens on the address and port (``free`` is a nearby free port)."""

    def __init__(self, host: str, port: int, free: int | None) -> None:
        super().__init__(errno.EADDRINUSE, f"{host}:{port} is in use")
        self.host, self.port, self.free = host, port, free


def port_is_free(host: str, port: int) -> bool:
    """True if a server could listen on ``host:port`` now (bound the way gunicorn binds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn does: a port left in TIME_WAIT by a stopped server counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_port(host: str, port: int) -> None:
    """Raise :class:`PortTaken` (with a free port nearby, if any) unless ``host:port`` is free."""
    if port_is_free(host, port):
        return
    free = next(
        (p for p in range(port + 1, port + 1 + SUGGESTION_RANGE) if port_is_free(host, p)), None
    )
    raise PortTaken(host, port, free)


def advice(taken: PortTaken) -> str:
    """What to tell the user when the port is taken."""
    other = f" --port {taken.free}" if taken.free else " --port <another port>"
    return (
        f"port {taken.port} on {taken.host} is in use, probably by a PyBirch server started "
        f"earlier.\n"
        f"  - Open that one: http://{taken.host}:{taken.port}/\n"
        f"  - Or stop it: Ctrl-C in its terminal (or find it with `lsof -i :{taken.port}` "
        f"and `kill <pid>`)\n"
        f"  - Or run this one on another port: pybirch serve{other}"
    )
