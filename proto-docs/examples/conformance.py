#!/usr/bin/env python3
"""Runs a checker plugin through the rules of proto-docs/plugin-protocol.md and says what is wrong.

    conformance.py PLUGIN --case TARGET CONFIG_JSON EXPECTED_STATUS [--case …]

Needs Python's jsonschema. Exit status 0 when every rule holds, 1 otherwise. (pinguinctl
has the same checks, and more, as `pinguinctl plugin test`.)
"""
import argparse
import json
import pathlib
import select
import subprocess
import sys
import time

from jsonschema import Draft202012Validator

SCHEMAS = {path.stem: json.loads(path.read_text())
           for path in (pathlib.Path(__file__).resolve().parent.parent / "schemas" / "plugin").glob("*.json")}
problems = []


def problem(text):
    problems.append(text)
    print("FAIL", text)


def valid(schema, value, what):
    errors = list(Draft202012Validator(SCHEMAS[schema]).iter_errors(value))
    for error in errors:
        problem(f"{what}: {error.message} at {list(error.path)}")
    return not errors


class Plugin:
    def __init__(self, path):
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PINGUIN_PLUGIN": "1", "PINGUIN_PLUGIN_PROTOCOL_VERSIONS": "1"}
        self.process = subprocess.Popen([str(pathlib.Path(path).resolve())], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=env, cwd="/", close_fds=True, start_new_session=True)
        self.buffer = b""

    def send(self, message):
        self.process.stdin.write((json.dumps(message, separators=(",", ":")) + "\n").encode())
        self.process.stdin.flush()

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                return None
            chunk = self.process.stdout.read1(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        if len(line) > 1 << 20:
            problem("a line longer than 1 MiB on stdout")
        try:
            message = json.loads(line)
        except ValueError:
            problem(f"stdout carries something that is not JSON: {line[:80]!r}")
            return None
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or ("result" in message) == ("error" in message):
            problem(f"stdout carries something that is not a JSON-RPC response: {line[:120]!r}")
        return message


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("plugin")
    parser.add_argument("--case", nargs=3, action="append", default=[], metavar=("TARGET", "CONFIG", "STATUS"))
    arguments = parser.parse_args()
    plugin = Plugin(arguments.plugin)

    plugin.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocol_versions": [1], "supervisor": {"name": "pinguind", "version": "test", "id": "conformance", "location": "default"},
        "limits": {"max_line_bytes": 1 << 20}}})
    hello = plugin.read(15)
    if not hello or hello.get("id") != 1 or "result" not in hello:
        problem(f"initialize: no result within 15 s ({hello})")
        return finish(plugin)
    print("ok   initialize answered")
    if valid("initialize-result", hello["result"], "initialize result"):
        for kind in hello["result"]["kinds"]:
            try:
                Draft202012Validator.check_schema(kind["config_schema"])
            except Exception as error:
                problem(f"kind {kind['kind']}: config_schema is not a valid JSON Schema: {error}")
    kind = hello["result"].get("kinds", [{}])[0].get("kind", "?")
    plugin.send({"jsonrpc": "2.0", "method": "initialized"})

    # Every case three times, all written before any answer is read: ids must match.
    expected = {}
    next_id = 100
    for _ in range(3):
        for target, config, status in arguments.case:
            expected[next_id] = (target, status)
            plugin.send({"jsonrpc": "2.0", "id": next_id, "method": "check.run", "params": {
                "check_id": f"conformance:{next_id}", "kind": kind, "target": target, "config": json.loads(config),
                "deadline": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 10)), "timeout_ms": 10000}})
            next_id += 1
    seen = set()
    while len(seen) < len(expected):
        message = plugin.read(10)
        if message is None:
            problem(f"check.run: {len(expected) - len(seen)} checks unanswered after 10 s")
            break
        request_id = message.get("id")
        if request_id not in expected or request_id in seen:
            problem(f"check.run: an answer for id {request_id}, which was not asked or was answered already")
            continue
        seen.add(request_id)
        if "error" in message:
            problem(f"check.run {expected[request_id][0]}: error {message['error']}")
            continue
        if valid("check-run-result", message["result"], f"check.run {expected[request_id][0]}"):
            if message["result"]["status"] != expected[request_id][1]:
                problem(f"check.run {expected[request_id][0]}: {message['result']['status']}, expected {expected[request_id][1]}")
    print(f"ok   {len(seen)} checks answered")

    plugin.send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
    pong = plugin.read(5)
    if not pong or pong.get("id") != 2 or pong.get("result") != {}:
        problem(f"ping: expected {{}} within 5 s, got {pong}")
    plugin.send({"jsonrpc": "2.0", "id": 3, "method": "no.such.method"})
    unknown = plugin.read(5)
    if not unknown or unknown.get("error", {}).get("code") != -32601:
        problem(f"an unknown method: expected error -32601, got {unknown}")
    plugin.send({"jsonrpc": "2.0", "id": 4, "method": "shutdown"})
    bye = plugin.read(5)
    if not bye or bye.get("id") != 4 or "result" not in bye or bye["result"] is not None:
        problem(f"shutdown: expected null, got {bye}")
    return finish(plugin)


def finish(plugin):
    plugin.process.stdin.close()
    try:
        plugin.process.wait(5)
        print("ok   exited at the end of input")
    except subprocess.TimeoutExpired:
        problem("still running 5 s after stdin closed")
        plugin.process.kill()
    if plugin.read(0.1) is not None:
        problem("wrote more after its last answer")
    print("PASS" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
