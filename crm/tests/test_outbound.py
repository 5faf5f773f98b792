"""crm.outbound over real sockets: HTTPS goes to the checked address with the URL's host as the
TLS name (SNI and certificate check), a certificate for another name is refused, and a reply
that drips slower than the deadline is cut. (Its use by webhooks, with the tricky URL forms, is
in test_webhooks.py.)"""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crm.outbound import OutboundFailed, outbound_request
from crm.tests.helpers import resolving

NAME = "hooks.partner.test"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway CA (ca.pem) and a certificate it signed for NAME (leaf.pem, leaf.key)."""
    where = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=where, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA")
    openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={NAME}")
    (where / "san.ext").write_text(f"subjectAltName=DNS:{NAME}\n")
    openssl(
        "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "2", "-extfile", "san.ext",
    )  # fmt: skip
    return where


@dataclass
class TlsServer:
    port: int
    sni: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    drip: bool = False  # answer one byte at a time, a tenth of a second apart
    stop: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def tls_server(certificates: Path) -> Iterator[TlsServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / "leaf.pem", certificates / "leaf.key")
    state = TlsServer(port=0)
    context.sni_callback = lambda _sock, name, _ctx: state.sni.append(name)  # type: ignore[assignment, func-returns-value]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "4096")
            self.end_headers()
            if not state.drip:
                self.wfile.write(b"secure".ljust(4096, b"."))
                return
            for _ in range(4096):
                if state.stop.wait(0.1):
                    return
                self.wfile.write(b".")
                self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.stop.set()
    server.shutdown()
    server.server_close()


def post(url: str, certificates: Path, *, timeout: float = 5, max_body_bytes: int = 100):  # noqa: ANN201
    return outbound_request(
        method="POST",
        url=url,
        body=b"{}",
        headers={"Content-Type": "application/json"},
        timeout=timeout,
        max_body_bytes=max_body_bytes,
        allow_private=True,  # the test server is on loopback
        ca_certs=str(certificates / "ca.pem"),
    )


def test_https_connects_to_the_checked_address_with_the_urls_name_for_tls(
    tls_server, certificates, monkeypatch
):
    asked = resolving(monkeypatch, {NAME: "127.0.0.1"})

    response = post(f"https://{NAME}:{tls_server.port}/in", certificates)

    assert (response.status, response.head, response.address) == (
        200,
        b"secure".ljust(100, b"."),
        "127.0.0.1",
    )
    assert asked == [NAME]  # resolved once
    assert tls_server.sni == [NAME]
    assert tls_server.hosts == [f"{NAME}:{tls_server.port}"]


def test_a_certificate_for_another_name_is_refused(tls_server, certificates, monkeypatch):
    resolving(monkeypatch, {"other.partner.test": "127.0.0.1"})

    with pytest.raises(OutboundFailed) as failed:
        post(f"https://other.partner.test:{tls_server.port}/in", certificates)

    assert failed.value.kind == "ConnectionError"
    assert "certificate" in str(failed.value).lower()
    assert tls_server.hosts == []  # the handshake failed: no request was sent


def test_a_reply_that_drips_is_cut_at_the_deadline(tls_server, certificates, monkeypatch):
    """The read timeout is per socket read; the deadline bounds the whole answer (a byte every
    0.1 s would otherwise hold the sender for 2048 x 0.1 s)."""
    resolving(monkeypatch, {NAME: "127.0.0.1"})
    tls_server.drip = True

    with pytest.raises(OutboundFailed) as failed:
        post(f"https://{NAME}:{tls_server.port}/in", certificates, timeout=1, max_body_bytes=2048)

    assert failed.value.kind == "Timeout"
    assert tls_server.hosts == [f"{NAME}:{tls_server.port}"]
