#!/usr/bin/env python3
"""A test SMTP server (aiosmtpd): stores each message it accepts as a file.

    smtp_sink.py --dir DIR --port-file FILE [--tls-cert C --tls-key K] [--auth USER:PASS]

With a certificate it offers STARTTLS and requires it; with --auth it requires AUTH PLAIN.
It writes its port to FILE once listening and runs until killed.
"""
import argparse
import pathlib
import signal
import socket
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        header = (
            f"X-Envelope-From: {envelope.mail_from}\n"
            f"X-Envelope-To: {','.join(envelope.rcpt_tos)}\n"
            f"X-TLS: {session.ssl is not None}\n"
            f"X-Authenticated: {session.authenticated}\n"
        ).encode()
        (self.directory / f"{self.count:04d}.eml").write_bytes(header + envelope.original_content)
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--auth")
    args = parser.parse_args()

    directory = pathlib.Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    options = {}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        options.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(args.tls_cert))
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port, **options)
    controller.start()
    pathlib.Path(args.port_file).write_text(str(port))
    # Wait for SIGTERM/SIGINT; sigwait returns at once, where Event.wait would not.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
