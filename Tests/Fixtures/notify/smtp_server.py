#!/usr/bin/env python3
"""An SMTP server for the e-mail notification tests, built on aiosmtpd (PyPI, found via PYTHONPATH).

    smtp_server.py --port-file PATH --log PATH [--cert FILE --key FILE (--starttls [--require-tls]
                   | --implicit-tls)] [--auth USER:PASSWORD [--auth-without-tls]] [--fail-first N]

Listens on 127.0.0.1 on a free port and writes that port (digits and a newline) to --port-file once
listening (PATH.tmp, then renamed). Appends one JSON object a line to --log for every accepted
message: {"mail_from", "rcpt_tos", "data" (UTF-8, errors replaced), "auth_user" (null or the user
that authenticated), "tls" (whether the session was under TLS), "received_at" (unix seconds)}.
  --starttls          offer STARTTLS; --require-tls refuses MAIL (and all but EHLO/NOOP/QUIT) first
  --implicit-tls      TLS from the first byte (smtps)
  --auth U:P          require AUTH PLAIN or LOGIN with these credentials before MAIL (535 if wrong);
                      offered only under TLS unless --auth-without-tls
  --fail-first N      answer the DATA of the first N messages "451 induced failure"
Exits cleanly on SIGTERM.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import ssl
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, log_path, fail_first):
        self.log = open(log_path, "a", encoding="utf-8")
        self.fail_first = fail_first
        self.seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if self.seen <= self.fail_first:
            return "451 induced failure"
        login = getattr(session.auth_data, "login", None) if session.authenticated else None
        entry = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                 "data": envelope.original_content.decode("utf-8", errors="replace"),
                 "auth_user": login.decode("utf-8", errors="replace") if login else None,
                 "tls": server.transport.get_extra_info("ssl_object") is not None,
                 "received_at": time.time()}
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data == (user, password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)  # 535 if not ok
    return check


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    tls_mode = parser.add_mutually_exclusive_group()
    tls_mode.add_argument("--starttls", action="store_true")
    tls_mode.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--require-tls", action="store_true")
    parser.add_argument("--auth")
    parser.add_argument("--auth-without-tls", action="store_true")
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    # Quiet aiosmtpd's warnings about AUTH without TLS, which these tests mean to allow.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    if (args.starttls or args.implicit_tls) and not (args.cert and args.key):
        parser.error("--starttls and --implicit-tls need --cert and --key")
    if args.require_tls and not args.starttls:
        parser.error("--require-tls goes with --starttls")

    tls = None
    if args.cert and args.key:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)

    smtp_options = dict(hostname="localhost", enable_SMTPUTF8=True, ident="pinguin test SMTP")
    if args.starttls:
        smtp_options.update(tls_context=tls, require_starttls=args.require_tls)
    if args.auth:
        user, _, password = args.auth.partition(":")
        # aiosmtpd only counts a STARTTLS session as TLS, so implicit TLS lifts auth_require_tls too.
        smtp_options.update(auth_required=True,
                            authenticator=authenticator(user.encode(), password.encode()),
                            auth_require_tls=not (args.auth_without_tls or args.implicit_tls))

    # Bind the socket ourselves (port 0), so the port is ours from the start.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    handler = Handler(args.log, args.fail_first)

    async def serve():
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        loop.add_signal_handler(signal.SIGINT, stop.set_result, None)
        server = await loop.create_server(lambda: SMTP(handler, loop=loop, **smtp_options), sock=sock,
                                          ssl=tls if args.implicit_tls else None)
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{sock.getsockname()[1]}\n")
        os.rename(args.port_file + ".tmp", args.port_file)
        await stop
        server.close()

    asyncio.run(serve())
    handler.log.close()


if __name__ == "__main__":
    main()
