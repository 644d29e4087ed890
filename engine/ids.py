"""Instance ids: time-ordered UUIDs (RFC 9562 version 7) as 32 hex digits.

The first 48 bits are the Unix time in milliseconds, so ids made one after another sort one after another.
Rows keyed by instance id (the instance, its history and its clocks) then land at the right edge of their
indexes: a command touches the few pages a recent instance lives on instead of a random page of each index,
which is what a database file of a million instances needs. The remaining 74 bits are random, so ids from
several processes do not collide.
"""

from __future__ import annotations

import os
import time


def new_instance_id() -> str:
    """A fresh version-7 UUID, as 32 lowercase hex digits (the form instance ids have always had)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, of which 74 are used
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 64) & 0xFFF) << 64  # rand_a: 12 bits
    value |= 0b10 << 62  # the RFC 4122 / 9562 variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # rand_b: 62 bits
    return f"{value:032x}"
