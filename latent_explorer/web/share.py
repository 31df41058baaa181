"""Where students reach the class: this machine's LAN addresses, as text and as a QR code."""
from __future__ import annotations

import ipaddress
import socket


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses another machine on the network can reach (not loopback, not
    0.0.0.0), the default route's first. Nothing is sent: a UDP socket's connect only picks a route."""
    found: list[str] = []
    for probe in ("10.255.255.255", "192.168.255.255", "172.31.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                found.append(s.getsockname()[0])
        except OSError:
            pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(info[4][0])
    except OSError:
        pass
    out = []
    for a in found:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            continue
        if ip.is_loopback or ip.is_unspecified or ip.is_link_local or a in out:
            continue
        out.append(a)
    return out


def urls(host: str, port: int) -> list[str]:
    """The addresses to give the class for a server bound to ``host``: the LAN addresses when it
    listens on every interface, else the one it is bound to."""
    if host in ("0.0.0.0", "", "::"):
        hosts = lan_addresses() or ["127.0.0.1"]
    else:
        hosts = [host]
    return [f"http://{h}:{port}/" for h in hosts]


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code of ``text`` as rows of dark (True) / light modules, with its quiet zone."""
    import segno

    return [[bool(v) for v in row] for row in segno.make(text, error="m").matrix_iter(scale=1, border=2)]


def qr_text(text: str) -> str:
    """The QR code drawn with Unicode half blocks, two module rows per line (a terminal shows it
    scannable with dark text on a light background or the other way round)."""
    rows = qr_matrix(text)
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    chars = {(False, False): "█", (True, False): "▄", (False, True): "▀", (True, True): " "}
    return "\n".join("".join(chars[(a, b)] for a, b in zip(top, bottom)) for top, bottom in zip(rows[::2], rows[1::2]))


def qr_svg(text: str, scale: int = 6) -> str:
    """The QR code as an inline SVG (the teacher's page shows it)."""
    rows = qr_matrix(text)
    n = len(rows)
    rects = "".join(f'<rect x="{x}" y="{y}" width="1" height="1"/>' for y, row in enumerate(rows)
                    for x, v in enumerate(row) if v)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" width="{n * scale}" '
            f'height="{n * scale}" shape-rendering="crispEdges"><rect width="{n}" height="{n}" fill="#fff"/>'
            f'<g fill="#000">{rects}</g></svg>')
