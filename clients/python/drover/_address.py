# SPDX-License-Identifier: ISC
"""Addresses of work sockets: a Unix socket path, or tcp:HOST:PORT
(tcp:[IPV6]:PORT), as in a pool's ``listen`` key."""
import os
import socket


def parse(address):
    """('unix', path) or ('tcp', host, port)."""
    if isinstance(address, os.PathLike):
        address = os.fspath(address)
    if not isinstance(address, str) or not address:
        raise ValueError("address must be a socket path or tcp:HOST:PORT, not %r" % (address,))
    if address.startswith("tcp:"):
        rest = address[4:]
        host, sep, port = rest.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("invalid address %r (expected tcp:HOST:PORT)" % address)
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return ("tcp", host, int(port))
    if address.startswith("unix:"):
        address = address[5:]
    return ("unix", address)


def connect(addr, timeout=None, ssl_context=None, server_hostname=None):
    """A connected blocking socket for a parsed address (TLS-wrapped when an
    ssl.SSLContext is given; TLS is for tcp: addresses)."""
    if addr[0] == "unix":
        if ssl_context is not None:
            raise ValueError("ssl_context is for tcp: addresses")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect(addr[1])
        except BaseException:
            s.close()
            raise
    else:
        s = socket.create_connection((addr[1], addr[2]), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:
            try:
                s = ssl_context.wrap_socket(s, server_hostname=server_hostname or addr[1])
            except BaseException:
                s.close()
                raise
    return s
