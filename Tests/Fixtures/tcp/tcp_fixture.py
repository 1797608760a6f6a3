#!/usr/bin/env python3
"""TCP fixture for pinguin-check-tcp's tests: one listener per behaviour, on free ports.

    tcp_fixture.py READY_FILE [CERT_DIR]

Writes {"behaviour": port, …} to READY_FILE once every listener is up (IPv4 127.0.0.1; the
`banner6` listener is on ::1), then serves until killed. Behaviours:
  banner       "220 pinguin fixture ready\\r\\n", then per line: PING -> PONG, HEX -> 00 01 fe ff,
               ECHO x -> x, SLOW -> PONG after 800 ms, QUIT -> "221 bye" and close, RESET -> RST
  slow_banner  the banner after 800 ms
  silent       accepts and never sends
  close        accepts and closes at once (FIN)
  reset        accepts and resets at once (RST)
  tls_valid, tls_expired, tls_wrongname, tls_soon   TLS with that certificate, then as banner
  tls_tls12    the valid certificate, TLS 1.2 at most
  tls_chained  a leaf (20 days) and its intermediate CA (3 days), both sent
The certificates are read at start, so CERT_DIR may go once READY_FILE exists. The fixture exits
when its parent (the test process) does.
"""
import ctypes, json, os, signal, socket, ssl, struct, sys, threading, time

parent = os.getppid()
try:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except OSError:
    pass

ready_file = sys.argv[1]
cert_dir = sys.argv[2] if len(sys.argv) > 2 else None


def rst(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def banner_session(conn, delay=0.0):
    if delay:
        time.sleep(delay)
    conn.sendall(b"220 pinguin fixture ready\r\n")
    buffer = b""
    while True:
        data = conn.recv(4096)
        if not data:
            conn.close()
            return
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            line = line.rstrip(b"\r")
            if line == b"PING":
                conn.sendall(b"PONG\r\n")
            elif line == b"HEX":
                conn.sendall(bytes([0, 1, 0xFE, 0xFF]))
            elif line.startswith(b"ECHO "):
                conn.sendall(line[5:] + b"\r\n")
            elif line == b"SLOW":
                time.sleep(0.8)
                conn.sendall(b"PONG\r\n")
            elif line == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                conn.close()
                return
            elif line == b"RESET":
                rst(conn)
                return
            else:
                conn.sendall(b"500 unknown command\r\n")


def handle(behaviour, conn):
    try:
        if behaviour in ("banner", "banner6"):
            banner_session(conn)
        elif behaviour == "slow_banner":
            banner_session(conn, 0.8)
        elif behaviour == "silent":
            while conn.recv(4096):
                pass
            conn.close()
        elif behaviour == "close":
            conn.close()
        elif behaviour == "reset":
            rst(conn)
        elif behaviour.startswith("tls_"):
            context = contexts[behaviour]
            conn.settimeout(10)
            try:
                tls = context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                return
            tls.settimeout(None)
            banner_session(tls)
    except OSError:
        pass


def serve(behaviour, listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(behaviour, conn), daemon=True).start()


behaviours = ["banner", "slow_banner", "silent", "close", "reset"]
contexts = {}
if cert_dir:
    for name in ["valid", "expired", "wrongname", "soon", "tls12", "chained"]:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate = "valid" if name == "tls12" else name
        context.load_cert_chain(os.path.join(cert_dir, certificate + ".pem"), os.path.join(cert_dir, certificate + ".key"))
        if name == "tls12":
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        contexts["tls_" + name] = context
    behaviours += list(contexts)
ports = {}
for behaviour in behaviours + ["banner6"]:
    family, host = (socket.AF_INET6, "::1") if behaviour == "banner6" else (socket.AF_INET, "127.0.0.1")
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(128)
    ports[behaviour] = listener.getsockname()[1]
    threading.Thread(target=serve, args=(behaviour, listener), daemon=True).start()

with open(ready_file + ".tmp", "w") as f:
    json.dump(ports, f)
os.rename(ready_file + ".tmp", ready_file)
while os.getppid() == parent:
    time.sleep(1)
os._exit(0)
