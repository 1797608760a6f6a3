#!/usr/bin/env python3
"""An HTTP/1.1 receiver for the notification tests: plays Slack, Discord, Teams, Telegram, ntfy,
Gotify, PagerDuty and generic webhooks, and logs every request it gets.

    receiver.py --port-file PATH --log PATH

Listens on 127.0.0.1 on a free port and writes that port (digits and a newline) to --port-file once
listening (PATH.tmp, then renamed). Appends one JSON object a line to --log for every request,
before answering it: {"method", "path" (no query), "query" (raw), "headers" (names lowercased,
repeats joined with ", "), "body" (UTF-8, errors replaced), "received_at" (unix seconds),
"answered" (the status code)}.

Any method; bodies by Content-Length or chunked, 1 MiB at most (413 beyond). Keep-alive works.
The path may start with prefixes, in any order and combined (e.g. /slow/200/fail/2/hook):
  /fail/N/...    the first N requests to that exact path (query left out) answer 500
                 "induced failure k of N"; later ones answer as if the prefix were not there
  /status/C/...  answer C (200-599) with body "status C" (no body for 204 and 304)
  /slow/MS/...   wait MS milliseconds before answering
Otherwise: 200, application/json, {"ok":true,"result":{},"status":"success"}.
Standard library only. Exits cleanly on SIGTERM; writes nothing but errors (on stderr).
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20
NORMAL_BODY = b'{"ok":true,"result":{},"status":"success"}'

log_lock = threading.Lock()
counts_lock = threading.Lock()
counts = {}  # full path -> requests seen, for /fail/N


class BodyTooLarge(Exception):
    pass


def parse_prefixes(path):
    """{"fail": N, "status": C, "slow": MS} for the prefixes that `path` starts with."""
    found, parts = {}, path.split("/")[1:]
    while len(parts) >= 2 and parts[0] in ("fail", "status", "slow") and parts[1].isdigit():
        value = int(parts[1])
        if parts[0] == "status" and not 200 <= value <= 599:
            break
        found.setdefault(parts[0], value)
        parts = parts[2:]
    return found


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
                if size == 0:
                    break
                if len(body) + size > MAX_BODY:
                    raise BodyTooLarge
                body += self.rfile.read(size)
                self.rfile.readline(1024)  # the CRLF after the chunk
            while self.rfile.readline(65536).strip():  # trailers, up to the empty line
                pass
            return body
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise BodyTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def serve(self):
        received_at = time.time()
        path, _, query = self.path.partition("?")
        try:
            body = self.read_body()
        except BodyTooLarge:
            body, self.close_connection = b"", True
            code, reply, kind = 413, b"body too large", "text/plain"
        except ValueError:
            body, self.close_connection = b"", True
            code, reply, kind = 400, b"bad body framing", "text/plain"
        else:
            code, reply, kind = self.decide(path)

        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = headers[name] + ", " + value if name in headers else value
        entry = {"method": self.command, "path": path, "query": query, "headers": headers,
                 "body": body.decode("utf-8", errors="replace"), "received_at": received_at,
                 "answered": code}
        with log_lock:
            log_file.write(json.dumps(entry) + "\n")
            log_file.flush()

        self.send_response(code)
        if code in (204, 304):  # no body, nor a length, with these
            reply = b""
        else:
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(reply)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply)

    def decide(self, path):
        """The status, body and content type to answer a request for `path` with."""
        prefixes = parse_prefixes(path)
        if "slow" in prefixes:
            time.sleep(prefixes["slow"] / 1000)
        if "fail" in prefixes:
            with counts_lock:
                k = counts[path] = counts.get(path, 0) + 1
            if k <= prefixes["fail"]:
                return 500, f"induced failure {k} of {prefixes['fail']}".encode(), "text/plain"
        if "status" in prefixes:
            return prefixes["status"], f"status {prefixes['status']}".encode(), "text/plain"
        return 200, NORMAL_BODY, "application/json"

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = serve

    def log_message(self, format, *args):  # no access log
        pass

    def log_error(self, format, *args):
        sys.stderr.write("receiver: " + (format % args) + "\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client going away is no error
            super().handle_error(request, client_address)


def main():
    global log_file
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()

    log_file = open(args.log, "a", encoding="utf-8")
    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(args.port_file + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        log_file.close()


if __name__ == "__main__":
    main()
