"""Checks mwsr::record against a real LevelDB (the one plyvel bundles).

Usage: python leveldb_compat.py PATH/TO/leveldb_log   (the example's binary)

1. Makes a database whose log holds small values, a value larger than a
   block, a write batch, and records that end exactly at a block boundary,
   with 1-6 trailer bytes left, and with exactly 7 bytes left.
2. (a) Our reader parses LevelDB's .log: the records are the write batches
   this script made, in order.
   (b) Our writer, given those payloads, reproduces the file byte for byte.
   (c) A log our writer framed, put in place of the .log in a copy of the
   database, is recovered by LevelDB with paranoid checks, with the keys it
   should hold.
Exits non-zero on any mismatch.
"""

import glob
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import plyvel

BLOCK = 32768
HEADER = 7
PUT, DELETE = 1, 0


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def batch_payload(seq, ops):
    """LevelDB's WriteBatch: fixed64 sequence, fixed32 count, then each op
    as 0x01 varint-key varint-value or 0x00 varint-key."""
    out = bytearray(struct.pack("<QI", seq, len(ops)))
    for op in ops:
        if op[0] == PUT:
            _, key, value = op
            out += bytes([PUT]) + varint(len(key)) + key + varint(len(value)) + value
        else:
            out += bytes([DELETE]) + varint(len(op[1])) + op[1]
    return bytes(out)


def parse_batch(payload):
    seq, count = struct.unpack_from("<QI", payload)
    at, ops = 12, []

    def read_slice():
        nonlocal at
        n, shift = 0, 0
        while True:
            b = payload[at]
            at += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        s = payload[at : at + n]
        at += n
        return s

    for _ in range(count):
        tag = payload[at]
        at += 1
        if tag == PUT:
            key = read_slice()
            ops.append((PUT, key, read_slice()))
        elif tag == DELETE:
            ops.append((DELETE, read_slice()))
        else:
            raise ValueError(f"unknown WriteBatch tag {tag}")
    if at != len(payload):
        raise ValueError("trailing bytes in a WriteBatch")
    return seq, ops


def after(offset, length):
    """Where LevelDB's log writer ends a record of `length` bytes that it
    starts at `offset`."""
    left = length
    while True:
        room = BLOCK - offset % BLOCK
        if room < HEADER:
            offset += room
        avail = BLOCK - offset % BLOCK - HEADER
        piece = min(left, avail)
        offset += HEADER + piece
        left -= piece
        if left == 0:
            return offset


class Plan:
    """Batches to write, with their sequence numbers, tracking the log's
    length so that records can be made to end where a case needs them."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.batches = []  # (seq, ops)
        self.seq = 1
        self.offset = 0
        self.cases = set()

    def add(self, ops):
        payload = batch_payload(self.seq, ops)
        self.batches.append((self.seq, ops))
        self.seq += len(ops)
        self.offset = after(self.offset, len(payload))

    def key(self, name):
        return self.prefix + name.encode()

    def put_ending_with_room(self, room, name):
        """A one-put batch after which exactly `room` bytes are left in its
        block (0: it ends at the boundary), then a small put that meets
        that case."""
        key = self.key(name)
        for _ in range(2):
            block_left = BLOCK - self.offset % BLOCK
            if block_left >= HEADER:
                want = block_left - HEADER - room
                for size in range(max(want - 40, 0), want + 1):
                    payload = batch_payload(self.seq, [(PUT, key, b"v" * size)])
                    if len(payload) == want:
                        self.add([(PUT, key, b"v" * size)])
                        assert (BLOCK - self.offset % BLOCK) % BLOCK == room
                        self.cases.add(room)
                        self.add([(PUT, self.key(name + "-next"), b"after")])
                        return
            # Too little room left in this block: move to the next one.
            self.add([(PUT, self.key(name + "-filler"), b"f" * 100)])
            self.add([(PUT, self.key(name + "-filler2"), b"f" * (BLOCK - 300))])
        raise AssertionError(f"could not place the room={room} case")

    def fill(self):
        for i in range(5):
            self.add([(PUT, self.key(f"small{i}"), f"value {i}".encode())])
        self.add([(PUT, self.key("big"), bytes(range(256)) * 400)])  # > 3 blocks
        self.add(
            [
                (PUT, self.key("batch-a"), b"A"),
                (PUT, self.key("batch-b"), b"B"),
                (DELETE, self.key("small0")),
            ]
        )
        for room in range(0, HEADER + 1):
            self.put_ending_with_room(room, f"room{room}")
        assert self.cases == set(range(0, HEADER + 1))

    def expected_keys(self):
        state = {}
        for _, ops in self.batches:
            for op in ops:
                if op[0] == PUT:
                    state[op[1]] = op[2]
                else:
                    state.pop(op[1], None)
        return state


def the_log(db_dir):
    logs = glob.glob(os.path.join(db_dir, "[0-9]*.log"))
    if len(logs) != 1:
        raise AssertionError(f"expected one .log in {db_dir}, found {logs}")
    return logs[0]


def run(tool, *args):
    return subprocess.run([tool, *args], check=True, capture_output=True, text=True).stdout


def fail(message):
    print(f"leveldb compat: FAILED: {message}")
    sys.exit(1)


def main():
    tool = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="mwsr-leveldb-")
    try:
        # 1. LevelDB writes a log. A large write buffer keeps everything in
        # the log (no flush to a table), and closing leaves the log as is.
        theirs = Plan(b"theirs-")
        theirs.fill()
        db_dir = os.path.join(work, "db")
        db = plyvel.DB(db_dir, create_if_missing=True, write_buffer_size=64 << 20)
        for _, ops in theirs.batches:
            with db.write_batch() as wb:
                for op in ops:
                    if op[0] == PUT:
                        wb.put(op[1], op[2])
                    else:
                        wb.delete(op[1])
        db.close()
        log_path = the_log(db_dir)
        with open(log_path, "rb") as f:
            log = f.read()
        if len(log) != theirs.offset:
            fail(f"LevelDB's log is {len(log)} bytes; the plan expected {theirs.offset}")

        # (a) Our reader parses it into exactly these batches.
        lines = run(tool, "dump", log_path).splitlines()
        payloads = [bytes.fromhex(line.split(" ", 1)[1]) for line in lines]
        parsed = [parse_batch(p) for p in payloads]
        if parsed != theirs.batches:
            fail("our reader's records differ from what LevelDB wrote")
        print(f"(a) read {len(parsed)} records from LevelDB's {len(log)}-byte log")

        # (b) Our writer frames those payloads into the same bytes.
        hex_path = os.path.join(work, "payloads.hex")
        with open(hex_path, "w") as f:
            f.writelines(p.hex() + "\n" for p in payloads)
        ours_path = os.path.join(work, "reencoded.log")
        run(tool, "encode", hex_path, ours_path)
        with open(ours_path, "rb") as f:
            reencoded = f.read()
        if reencoded != log:
            diff = next((i for i, (a, b) in enumerate(zip(log, reencoded)) if a != b), None)
            fail(f"re-encoded log differs (lengths {len(log)}, {len(reencoded)}; first diff at {diff})")
        print(f"(b) re-encoding reproduces LevelDB's log byte for byte, block-boundary cases {sorted(theirs.cases)}")

        # (c) LevelDB recovers a log our writer framed.
        ours = Plan(b"ours-")
        ours.fill()
        with open(hex_path, "w") as f:
            f.writelines(batch_payload(seq, ops).hex() + "\n" for seq, ops in ours.batches)
        copy_dir = os.path.join(work, "copy")
        shutil.copytree(db_dir, copy_dir)
        run(tool, "encode", hex_path, the_log(copy_dir))
        db = plyvel.DB(copy_dir, paranoid_checks=True)
        got = dict(db.iterator())
        db.close()
        want = ours.expected_keys()
        if got != want:
            missing = sorted(set(want) - set(got))[:5]
            extra = sorted(set(got) - set(want))[:5]
            fail(f"LevelDB recovered {len(got)} keys, expected {len(want)}; missing {missing}, extra {extra}")
        print(f"(c) LevelDB (paranoid_checks) recovered our log: {len(got)} keys as expected")
        print("leveldb compat: ok")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
