"""Instance ids are version-7 UUIDs: time-ordered, unique, and of the 32-hex form ids have always had."""

from __future__ import annotations

import uuid

from engine.ids import new_instance_id


def test_an_id_is_a_version_7_uuid_in_32_hex_digits() -> None:
    value = new_instance_id()
    assert len(value) == 32 and value == value.lower()
    parsed = uuid.UUID(hex=value)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_ids_made_later_sort_later_and_never_repeat() -> None:
    ids = [new_instance_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    # ids of different milliseconds keep their order (within one millisecond the random part decides)
    prefixes = [i[:12] for i in ids]
    assert prefixes == sorted(prefixes)
