"""The store of values derived from definition objects: worked out once, never answered for another object."""

from __future__ import annotations

from engine.memo import Derived


class Owner:
    pass


def test_a_value_is_worked_out_once_per_owner() -> None:
    """Asking again for the same owner answers the kept value without building it again."""
    kept: Derived[int] = Derived(10)
    owner, built = Owner(), []
    first = kept.get(id(owner), owner, lambda: built.append(1) or len(built))
    again = kept.get(id(owner), owner, lambda: built.append(1) or len(built))
    assert (first, again, len(built)) == (1, 1, 1)


def test_another_object_under_the_same_key_gets_its_own_value() -> None:
    """A key whose kept owner is not this object (an id reused after the first died) is worked out anew."""
    kept: Derived[str] = Derived(10)
    kept.get("k", Owner(), lambda: "old")
    assert kept.get("k", Owner(), lambda: "new") == "new"


def test_the_store_never_holds_more_than_its_bound() -> None:
    """Reaching the bound empties the store before the next value is kept."""
    kept: Derived[int] = Derived(3)
    owners = [Owner() for _ in range(7)]
    sizes = []
    for i, owner in enumerate(owners):
        kept.get(i, owner, lambda i=i: i)
        sizes.append(len(kept))
    assert max(sizes) == 3 and sizes == [1, 2, 3, 1, 2, 3, 1]
