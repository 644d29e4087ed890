"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters, the last a check character."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    """The 18th character for the first 17; ValueError names a character outside the code's alphabet."""
    if len(first17) != 17:
        raise ValueError(f"expected 17 characters, received {len(first17)}")
    total = 0
    for position, (char, weight) in enumerate(zip(first17, WEIGHTS, strict=True), start=1):
        value = ALPHABET.find(char)
        if value < 0:
            raise ValueError(f"character {char!r} at position {position} is not allowed in a credit code")
        total += value * weight
    return ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why `code` is not a valid credit code, or None when it is."""
    if not isinstance(code, str) or len(code) != 18:
        length = len(code) if isinstance(code, str) else 0
        return f"a unified social credit code has 18 characters, {code!r} has {length}"
    try:
        expected = check_character(code[:17])
    except ValueError as err:
        return str(err)
    if code[17] != expected:
        return f"check character of {code} is wrong: expected {expected!r}, found {code[17]!r}"
    return None


def is_credit_code(value: object) -> bool:
    """True when `value` is an 18-character unified social credit code with a correct check character."""
    return isinstance(value, str) and credit_code_problem(value) is None


def make_credit_code(seed: int, prefix: str = "11450000") -> str:
    """A valid credit code for tests and demos: `prefix` (authority, type, region) + a number + check character."""
    body = (prefix + f"{seed:09d}")[:17]
    body = "".join(c if c in ALPHABET else "0" for c in body)
    return body + check_character(body)


__all__ = ["ALPHABET", "WEIGHTS", "check_character", "credit_code_problem", "is_credit_code", "make_credit_code"]
