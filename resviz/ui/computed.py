"""Finished analyses shared by every session of the server, computed once each under a spinner
or a progress bar: trained weights, landscapes, correlations. Never a live model.

Not `st.cache_resource`: that keys a result on the hashes of a function's arguments and cannot
say whether one is there without computing it. Here the caller names each result (a run's
identity, a file's digest) and computes it with a closure over tensors and state dicts that
would be hashed on every call; and `has` lets a page offer a Compute button only for what no
session has computed yet.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import streamlit as st


class Store:
    """Finished results shared by every session: state dicts and read-only arrays, never a model.

    Holds the newest `size`. While a key is being computed, the sessions asking for it share one
    lock, so it is computed once; the lock goes when the last of them is done, so a computation
    that raised leaves nothing behind and the next request computes it again.
    """

    def __init__(self, size: int = 64):
        self.size = size
        self.items: OrderedDict[Hashable, object] = OrderedDict()
        self.pending: dict[Hashable, tuple[threading.Lock, list[int]]] = {}  # lock, waiters
        self.lock = threading.Lock()

    def has(self, key: Hashable) -> bool:
        with self.lock:
            return key in self.items

    def get(self, key: Hashable, compute: Callable[[], object]) -> object:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            key_lock, waiters = self.pending.setdefault(key, (threading.Lock(), [0]))
            waiters[0] += 1
        try:
            with key_lock:
                with self.lock:
                    if key in self.items:  # computed by the session this one waited for
                        return self.items[key]
                value = compute()
                with self.lock:
                    self.items[key] = value
                    while len(self.items) > self.size:
                        self.items.popitem(last=False)
                return value
        finally:
            with self.lock:
                waiters[0] -= 1
                if not waiters[0]:
                    del self.pending[key]


@st.cache_resource
def store() -> Store:
    return Store()


def cached(key: Hashable, compute: Callable, text: str, steps: bool = False):
    """compute() once per key for the server, under a spinner; with `steps`, compute(on_step)
    under a progress bar."""

    def run():
        if not steps:
            with st.spinner(text):
                return compute()
        bar = st.progress(0.0, text=text)
        value = compute(lambda done: bar.progress(min(done, 1.0), text=text))
        bar.empty()
        return value

    return store().get(key, run)
