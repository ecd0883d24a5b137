"""The store of finished analyses every session shares: computed once, a failure not kept."""

import threading

import pytest

from resviz.ui.computed import Store


def test_two_sessions_asking_at_once_compute_it_once():
    store, calls, started = Store(), [], threading.Event()
    release = threading.Event()

    def slow():
        calls.append(1)
        started.set()
        release.wait(5)
        return "landscape"

    got = []
    first = threading.Thread(target=lambda: got.append(store.get("k", slow)))
    first.start()
    started.wait(5)
    second = threading.Thread(target=lambda: got.append(store.get("k", slow)))
    second.start()
    release.set()
    first.join(5), second.join(5)
    assert got == ["landscape", "landscape"] and len(calls) == 1
    assert store.has("k") and not store.pending


def test_a_computation_that_raises_leaves_no_lock_and_the_next_try_computes_again():
    store = Store()

    def fail():
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        store.get("k", fail)
    assert not store.has("k") and not store.pending
    assert store.get("k", lambda: 42) == 42


def test_a_session_waiting_on_a_failed_computation_computes_it_itself():
    store, started, release = Store(), threading.Event(), threading.Event()

    def fail():
        started.set()
        release.wait(5)
        raise RuntimeError("interrupted")

    errors, got = [], []

    def first():
        try:
            store.get("k", fail)
        except RuntimeError as e:
            errors.append(str(e))

    a = threading.Thread(target=first)
    a.start()
    started.wait(5)
    b = threading.Thread(target=lambda: got.append(store.get("k", lambda: "fresh")))
    b.start()
    while store.pending["k"][1] != [2]:  # b waits on the key's lock
        threading.Event().wait(0.01)
    release.set()
    a.join(5), b.join(5)
    assert not a.is_alive() and not b.is_alive()
    assert errors == ["interrupted"] and got == ["fresh"]
    assert not store.pending


def test_it_keeps_the_newest_results_only():
    store = Store(size=2)
    for k in "abc":
        store.get(k, lambda k=k: k.upper())
    assert [store.has(k) for k in "abc"] == [False, True, True]
