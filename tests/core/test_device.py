"""Thread choice: ThreadChooser keeps the count that trains faster, and re-measures."""

from lyrics_tui.core.device import ThreadChooser, training_threads


def feed(chooser: ThreadChooser, speed: dict[int, float], batches: int) -> list[int]:
    """Run `batches` fake batches of 1,000 tokens at the given tokens/s per thread count."""
    used = []
    for _ in range(batches):
        threads = chooser.current
        used.append(threads)
        chooser.record(1000, 1000 / speed[threads])
    return used


def test_keeps_two_threads_when_they_are_faster():
    chooser = ThreadChooser([2, 1], trial=3, recheck=1000)
    used = feed(chooser, {2: 14000, 1: 9000}, 30)
    assert 1 in used[:12]  # one thread was tried
    assert set(used[-10:]) == {2}


def test_falls_back_to_one_thread_under_contention():
    chooser = ThreadChooser([2, 1], trial=3, recheck=1000)
    used = feed(chooser, {2: 900, 1: 6000}, 30)
    assert set(used[-10:]) == {1}


def test_measures_again_after_recheck_batches():
    chooser = ThreadChooser([2, 1], trial=2, recheck=20)
    feed(chooser, {2: 14000, 1: 9000}, 20)  # settles on 2
    used = feed(chooser, {2: 900, 1: 6000}, 40)  # the machine got busy
    assert set(used[-10:]) == {1}


def test_single_candidate_never_changes():
    chooser = ThreadChooser([1])
    assert set(feed(chooser, {1: 5000}, 10)) == {1}


def test_requested_threads_win_else_every_core_up_to_four(monkeypatch):
    assert training_threads(3) == 3
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert training_threads(0) == 2
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert training_threads(0) == 4


def test_freed_memory_is_kept_under_glibc():
    import platform

    from lyrics_tui.core.tuning import keep_freed_memory

    expected = platform.libc_ver()[0] == "glibc"
    assert keep_freed_memory() is expected
    assert keep_freed_memory() is expected  # a second call changes nothing


def test_measures_again_at_once_when_the_machine_gets_busy():
    chooser = ThreadChooser([2, 1], trial=2, recheck=10_000)
    feed(chooser, {2: 14000, 1: 9000}, 20)  # settles on 2
    used = feed(chooser, {2: 900, 1: 6000}, 12)  # two slow batches, then one thread is timed
    assert 1 in used[:6] and set(used[-4:]) == {1}


def test_starts_from_the_count_given():
    chooser = ThreadChooser([2, 1], trial=2, start=1)
    assert feed(chooser, {2: 14000, 1: 9000}, 1) == [1]
