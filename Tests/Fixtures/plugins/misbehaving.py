#!/usr/bin/env python3
"""A checker plugin that breaks the protocol on purpose, in the way its first argument names.

The supervisor tests install it under names like pinguin-check-garbage (a two-line shell
wrapper passes the mode), so each misbehaviour is a real process doing a real wrong thing.
Kind: the mode itself. Config: {"status": "up"|"down"|…} for the checks it does answer.
"""
import json
import os
import signal
import sys
import time

MODE = sys.argv[1]
out = sys.stdout


def send(obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


if MODE == "crashloop":
    log("E! cannot start: configuration missing")
    sys.exit(1)
if MODE == "banner":
    out.write("misbehaving plugin 1.0 starting\n")
    out.flush()
if MODE == "ignoreterm":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

answered = 0
for raw in sys.stdin:
    request = json.loads(raw)
    method = request.get("method")
    rid = request.get("id")
    if method == "initialize":
        if MODE == "handshakeexit":
            log("E! giving up during the handshake")
            sys.exit(4)
        if MODE == "handshakehang":
            time.sleep(3600)
        send({"jsonrpc": "2.0", "id": rid, "result": {
            "protocol_version": 1, "plugin": {"name": "misbehaving-" + MODE, "version": "1.0"},
            "kinds": [{"kind": MODE, "config_schema": {"type": "object"}}], "max_concurrency": 8}})
        continue
    if method in ("initialized", "check.cancel"):
        continue
    if method == "ping":
        if MODE != "hang":
            send({"jsonrpc": "2.0", "id": rid, "result": {}})
        continue
    if method == "shutdown":
        send({"jsonrpc": "2.0", "id": rid, "result": None})
        continue
    if method != "check.run":
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "method not found"}})
        continue
    params = request["params"]
    status = params["config"].get("status", "up")
    good = {"jsonrpc": "2.0", "id": rid, "result": {"status": status, "message": "answered " + status}}
    if MODE == "garbage":
        out.write("Traceback (most recent call last): oops\n")
        out.flush()
    elif MODE == "hugeline":
        chunk = "x" * (1 << 20)
        try:
            for _ in range(100):
                out.write(chunk)
            out.write("\n")
            out.flush()
        except BrokenPipeError:
            sys.exit(0)
    elif MODE == "partial":
        out.write('{"jsonrpc":"2.0","id":')
        out.flush()
        time.sleep(3600)
    elif MODE == "hang":
        continue
    elif MODE == "crashmid":
        log("E! segmentation fault while checking " + params["target"])
        sys.exit(2)
    elif MODE == "wrongid":
        good["id"] = rid + 1000
        send(good)
    elif MODE == "dupid":
        send(good)
        send(good)
    elif MODE == "badresult":
        send({"jsonrpc": "2.0", "id": rid, "result": {"status": "sideways", "message": 42}})
    elif MODE == "rpcerror":
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32603, "message": "could not open a raw socket: permission denied"}})
    elif MODE == "hygiene":
        import resource
        fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
        send({"jsonrpc": "2.0", "id": rid, "result": {"status": "up", "message": "hygiene", "details": {
            "environment": dict(os.environ), "fds": fds, "pid": os.getpid(), "pgid": os.getpgid(0),
            "cwd": os.getcwd(), "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "sigpipe_default": signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL,
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}}})
    elif MODE == "slowthenok":
        time.sleep(float(params["config"].get("sleep", 0)))
        send(good)
    else:  # good, ignoreterm, banner (after its banner it is killed anyway)
        send(good)
# End of input: exit, except the one that ignores everything.
if MODE == "ignoreterm":
    while True:
        time.sleep(1)
