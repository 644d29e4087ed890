"""Properties: back-off delays stay in their bounds; a credit code's check character catches any one-character error."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from engine.credit_code import ALPHABET, check_character, credit_code_problem
from notifiers.dispatcher import Backoff

bodies = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


@given(
    base=st.integers(1, 600), factor=st.integers(1, 100), jitter=st.floats(0, 0.99), attempts=st.integers(1, 200),
    seed=st.integers(0, 2**32),
)
def test_backoff_stays_between_the_jittered_and_the_full_delay(
    base: int, factor: int, jitter: float, attempts: int, seed: int
) -> None:
    """Every delay lies in [(1 - jitter) * d, d] with d = min(max, base * 2^(n-1)), never above the maximum."""
    backoff = Backoff(timedelta(seconds=base), timedelta(seconds=base * factor), jitter)
    full = min(backoff.base * 2 ** min(attempts - 1, 30), backoff.maximum)
    delay = backoff.delay(attempts, random.Random(seed))
    assert full * (1 - jitter) - timedelta(microseconds=1) <= delay <= full
    assert delay <= backoff.maximum


@given(body=bodies)
def test_a_computed_check_character_validates(body: str) -> None:
    """A code completed with its computed check character is valid."""
    assert credit_code_problem(body + check_character(body)) is None


@given(body=bodies, position=st.integers(0, 17), replacement=st.sampled_from(ALPHABET))
def test_any_single_character_change_is_caught(body: str, position: int, replacement: str) -> None:
    """Changing any one character of a valid code to another makes it invalid."""
    code = body + check_character(body)
    changed = code[:position] + replacement + code[position + 1:]
    assert (credit_code_problem(changed) is None) == (changed == code)
