#!/usr/bin/env python3
"""Answers IPv4 echo requests itself, DELAY_MS late, from the address the kernel picks (the
interface's first one): run inside a test network namespace whose nftables rules drop the
kernel's own echo replies (those with a TTL other than 99; ours carry 99).

    icmp_responder.py DELAY_MS READY_FILE [MODE]

MODE (default `echo`) makes the replies wrong in one way each, for the plugin's reply matching:
  echo             a correct reply
  wrong_sequence   the sequence number with its top bit flipped
  wrong_identifier the identifier inverted
  wrong_cookie     the first payload byte (the check's cookie) inverted
  duplicate_first  the first request seen is answered twice, every later one once
"""
import ctypes, os, signal, socket, struct, sys, threading, time

delay = int(sys.argv[1]) / 1000.0
mode = sys.argv[3] if len(sys.argv) > 3 else "echo"
if mode not in ("echo", "wrong_sequence", "wrong_identifier", "wrong_cookie", "duplicate_first"):
    sys.exit("icmp_responder.py: unknown mode " + mode)
parent = os.getppid()
try:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except OSError:
    pass


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 99)


def answer(packet, source, times):
    time.sleep(delay)
    for _ in range(times):
        sock.sendto(packet, (source, 0))


def watch_parent():
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def reply_to(icmp):
    """The echo reply to the ICMP message `icmp` (an echo request), made wrong as `mode` says."""
    body = bytearray(icmp[4:])  # identifier, sequence, payload
    if mode == "wrong_identifier":
        body[0] ^= 0xFF
        body[1] ^= 0xFF
    elif mode == "wrong_sequence":
        body[2] ^= 0x80
    elif mode == "wrong_cookie" and len(body) > 4:
        body[4] ^= 0xFF
    reply = bytes([0, 0, 0, 0]) + bytes(body)
    return reply[:2] + struct.pack("!H", checksum(reply)) + reply[4:]


threading.Thread(target=watch_parent, daemon=True).start()
open(sys.argv[2], "w").close()
first = True
while True:
    data, (source, _) = sock.recvfrom(65535)
    header = (data[0] & 0x0F) * 4
    icmp = data[header:]
    if len(icmp) < 8 or icmp[0] != 8:
        continue
    times = 2 if mode == "duplicate_first" and first else 1
    first = False
    threading.Thread(target=answer, args=(reply_to(icmp), source, times), daemon=True).start()
