#!/usr/bin/env python3
"""A DNS responder for the pinguin-check-dns tests: the answers dnsmasq will not give.

Listens on 127.0.0.1 over UDP and TCP on one free port, prints that port on stdout, and answers
by the first label of the question's name:
  servfail.*  SERVFAIL      refused.*  REFUSED      notimp.*  NOTIMP
  slow-N.*    A 192.0.2.77 after N milliseconds     drop.*    never answers
  garbage.*   a response whose answer record is cut off
  transport.* A 192.0.2.51 over UDP, A 192.0.2.52 over TCP
  truncated.* over UDP: truncated (TC) with A 192.0.2.61 only; over TCP: A 192.0.2.62 and 192.0.2.63
  many.*      over UDP: truncated (TC), no records; over TCP: 101 A records 198.51.100.0 to .100
  recursive.* not authoritative, recursion available: A 192.0.2.99 and NS ns.odd.test in the authority section
  anything else: A 192.0.2.99, TTL 42 (authoritative, no recursion)
Standard library only. Exits when stdin closes.
"""
import socket
import struct
import sys
import threading
import time


def parse_question(query):
    labels, offset = [], 12
    while query[offset]:
        length = query[offset]
        labels.append(query[offset + 1:offset + 1 + length].decode("ascii", "replace").lower())
        offset += 1 + length
    return labels, offset + 5  # the root label, type and class


def encode_name(name):
    return b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.split(".")) + b"\0"


def answer(query, tcp=False):
    """The response to `query` (over TCP or UDP), and how long to wait first; None to stay silent."""
    if len(query) < 17:
        return None, 0
    (ident, flags) = struct.unpack("!HH", query[:4])
    labels, end = parse_question(query)
    question = query[12:end]
    first = labels[0] if labels else ""
    rd = flags & 0x0100

    def header(rcode, ancount, nscount=0, bits=0x0400):
        return struct.pack("!HHHHHH", ident, 0x8000 | bits | rd | rcode, 1, ancount, nscount, 0)

    def a_record(address, ttl):
        return b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, ttl, 4) + socket.inet_aton(address)

    def a_records(addresses):
        return header(0, len(addresses)) + question + b"".join(a_record(address, 42) for address in addresses)

    truncated = 0x0400 | 0x0200  # AA, TC
    if first == "transport":
        return a_records(["192.0.2.52" if tcp else "192.0.2.51"]), 0
    if first == "truncated":
        if tcp:
            return a_records(["192.0.2.62", "192.0.2.63"]), 0
        return header(0, 1, bits=truncated) + question + a_record("192.0.2.61", 42), 0
    if first == "many":
        if tcp:
            return a_records(["198.51.100.%d" % index for index in range(101)]), 0
        return header(0, 0, bits=truncated) + question, 0
    if first == "recursive":
        ns = encode_name("odd.test") + struct.pack("!HHI", 2, 1, 300)
        target = encode_name("ns.odd.test")
        ns += struct.pack("!H", len(target)) + target
        return header(0, 1, 1, bits=0x0080) + question + a_record("192.0.2.99", 42) + ns, 0

    codes = {"servfail": 2, "refused": 5, "notimp": 4}
    if first in codes:
        return header(codes[first], 0) + question, 0
    if first == "drop":
        return None, 0
    if first == "garbage":
        return header(0, 1) + question + a_record("192.0.2.1", 1)[:-2], 0
    if first.startswith("slow-"):
        return header(0, 1) + question + a_record("192.0.2.77", 5), int(first[5:]) / 1000
    return header(0, 1) + question + a_record("192.0.2.99", 42), 0


def serve_udp(sock):
    while True:
        query, peer = sock.recvfrom(4096)
        response, delay = answer(query)
        if response is None:
            continue
        if delay:
            threading.Timer(delay, sock.sendto, (response, peer)).start()
        else:
            sock.sendto(response, peer)


def serve_tcp_client(conn):
    with conn:
        while True:
            head = conn.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return
            (length,) = struct.unpack("!H", head)
            query = conn.recv(length, socket.MSG_WAITALL)
            response, delay = answer(query, tcp=True)
            if response is None:
                continue
            time.sleep(delay)
            conn.sendall(struct.pack("!H", len(response)) + response)


def serve_tcp(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_tcp_client, args=(conn,), daemon=True).start()


def bind():
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(64)
        return udp, tcp, port
    sys.exit("responder: no port free for both UDP and TCP")


def main():
    udp, tcp, port = bind()
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    threading.Thread(target=serve_tcp, args=(tcp,), daemon=True).start()
    print(port, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
