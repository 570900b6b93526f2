"""The importer's first-row memory answers the same before and after it moves to disk."""

from __future__ import annotations

import pytest

from storage.import_scratch import First, FirstRows, Outcome


@pytest.mark.parametrize("spill_after", [1_000, 2])  # all in memory / most on disk
def test_first_rows_the_same_in_memory_and_on_disk(spill_after: int) -> None:
    seen = FirstRows(spill_after=spill_after)
    try:
        for i in range(5):
            seen.add(f"+25471200000{i}", where=f"row {i + 2}", groups=("club:ict",))
        assert len(seen) == 5
        assert seen.get("+254712000009") is None
        assert seen.get("+254712000003") == First("row 5", ("club:ict",), Outcome.PENDING)
        seen.set_groups("+254712000003", ("club:ict", "dept:ict"))
        seen.settle("+254712000003", Outcome.CHANGED)
        seen.settle("+254712000000", Outcome.UNCHANGED)
        assert seen.get("+254712000003") == First(
            "row 5", ("club:ict", "dept:ict"), Outcome.CHANGED
        )
        assert seen.get("+254712000000") == First("row 2", ("club:ict",), Outcome.UNCHANGED)
        assert (seen._db is not None) == (spill_after < 5)
    finally:
        seen.close()
    assert seen._db is None
