#!/usr/bin/env python3
"""Answers IPv4 echo requests itself, DELAY_MS late, from the address the kernel picks (the
interface's first one): run inside a test network namespace whose nftables rules drop the
kernel's own echo replies (those with a TTL other than 99; ours carry 99).

    icmp_responder.py DELAY_MS READY_FILE
"""
import ctypes, os, signal, socket, struct, sys, threading, time

delay = int(sys.argv[1]) / 1000.0
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


def answer(packet, source):
    time.sleep(delay)
    sock.sendto(packet, (source, 0))


def watch_parent():
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


threading.Thread(target=watch_parent, daemon=True).start()
open(sys.argv[2], "w").close()
while True:
    data, (source, _) = sock.recvfrom(65535)
    header = (data[0] & 0x0F) * 4
    icmp = data[header:]
    if len(icmp) < 8 or icmp[0] != 8:
        continue
    reply = bytes([0, 0, 0, 0]) + icmp[4:]
    reply = reply[:2] + struct.pack("!H", checksum(reply)) + reply[4:]
    threading.Thread(target=answer, args=(reply, source), daemon=True).start()
