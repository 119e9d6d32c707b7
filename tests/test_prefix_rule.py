"""The prefix cache's rule for cutting prompts into pieces, and its store of snapshots."""

from __future__ import annotations

import pytest

from edgejudge.runtime.inprocess.prefix import CacheStats, PieceRule, Snapshots

RULE = PieceRule(n_batch=512)


def plan(rule: PieceRule, start: int, length: int, room: int = 512) -> list[tuple[int, int]]:
    """The pieces the decoder evaluates from `start`, as it cuts them."""
    pieces = []
    while start < length:
        end = rule.next_end(start, length, room)
        assert end > start, (start, length)
        pieces.append((start, end))
        start = end
    return pieces


def test_a_cold_prompt_is_cut_where_llama_cpp_cuts_it() -> None:
    """From an empty cache: multiples of n_batch, as llama-server and llama-cpp-python do."""
    assert plan(RULE, 0, 1100) == [(0, 512), (512, 1024), (1024, 1100)]
    assert plan(RULE, 0, 1030) == [(0, 512), (512, 1024), (1024, 1030)]
    assert plan(RULE, 0, 40) == [(0, 40)]


@pytest.mark.parametrize("length", [1, 40, 63, 64, 65, 100, 511, 512, 513, 530, 576, 600, 1030,
                                    1087, 1088, 1100, 2300])  # fmt: skip
def test_every_token_is_evaluated_in_a_piece_of_the_same_kind_as_cold(length: int) -> None:
    """Whatever head a prompt reuses, each token it evaluates is in a long piece where the
    cold plan has it in one, and the cold plan's short last piece is evaluated as it is."""
    cold = plan(RULE, 0, length)
    short = {p for a, b in cold if b - a < RULE.long for p in range(a, b)}
    for shared in range(0, length + 1, 7):
        cut = RULE.cut(shared, length)
        assert 0 <= cut <= shared and cut < length
        assert not any(p in short for p in range(cut))  # reused tokens were long in cold
        for a, b in plan(RULE, cut, length):
            if b - a < RULE.long:
                assert (a, b) == cold[-1]  # only the cold plan's own short piece
            else:
                assert not short & set(range(a, b))
    assert RULE.long_end(length) == length - len(short)


@pytest.mark.parametrize("granule", [4, 32])
@pytest.mark.parametrize("room", [512, 508, 300, 131])
def test_every_cut_between_llama_cpps_own_is_on_the_granule(granule: int, room: int) -> None:
    """A reused head ends on the granule, and so does every piece that ends between two
    of llama.cpp's own cuts (a batch's room cuts a prompt anywhere otherwise)."""
    rule = PieceRule(n_batch=512, granule=granule)
    for length in (65, 130, 511, 600, 715, 1029, 1100, 1537):
        ends = {512 * k for k in range(1, 4)} | {length}
        for shared in range(0, length + 1, 3):
            cut = rule.cut(shared, length)
            assert cut % granule == 0 and cut <= shared
            pieces = plan(rule, cut, length, room)
            assert all(b in ends or b % granule == 0 for _, b in pieces), pieces
            assert all(b - a >= rule.long or (a, b) == plan(rule, 0, length)[-1]
                       for a, b in pieces)  # fmt: skip


def test_a_small_batch_room_waits_rather_than_cut_a_short_piece() -> None:
    assert RULE.next_end(0, 1000, 40) == 0
    assert RULE.next_end(0, 1000, 64) == 64
    assert RULE.next_end(900, 1000, 90) == 900  # 90 would leave 10, and 36 is short
    assert RULE.next_end(800, 1000, 150) == 936  # leaves 64, not 50
    assert RULE.next_end(900, 1000, 100) == 1000


def test_snapshots_keep_the_most_recently_used_within_their_budget() -> None:
    stats = CacheStats()
    store = Snapshots(100, stats)
    store.add([1, 2, 3], b"a", 40)
    store.add([1, 2, 3, 4, 5], b"b", 40)  # extends [1, 2, 3]: that one goes
    assert not store.covers([9]) and store.covers([1, 2, 3, 4])
    assert stats.bytes == 40
    store.add([7, 8], b"c", 40)
    store.touch(store.best([1, 2, 9])[0])  # type: ignore[arg-type]
    store.add([6], b"d", 40)  # over budget: [7, 8] was used least recently
    assert store.best([7, 8])[1] == 0 and store.best([1, 2, 3, 4, 5, 6])[1] == 5
    assert (stats.bytes, stats.peak_bytes, stats.evictions, stats.snapshots) == (80, 80, 1, 4)
    assert not store.fits(101) and store.fits(100)


def test_room_is_made_before_a_snapshot_is_copied_out() -> None:
    # The budget holds even while the new snapshot is made: what it replaces, then the
    # least recently used, go first (at judge size one head is a gigabyte).
    stats = CacheStats()
    store = Snapshots(100, stats)
    store.add([1, 2], b"a", 40)
    store.add([7, 8], b"b", 40)
    store.make_room([1, 2, 3], 60)  # replaces [1, 2]; then 40 + 60 fits
    assert stats.bytes == 40 and store.covers([7, 8]) and not store.covers([1, 2])
    store.add([1, 2, 3], b"c", 60)
    store.make_room([5], 50)  # [7, 8] is the least recently used, then [1, 2, 3]
    assert stats.bytes == 0 and stats.evictions == 2
    store.add([5], b"d", 50)
    assert (stats.bytes, stats.peak_bytes) == (50, 100)
