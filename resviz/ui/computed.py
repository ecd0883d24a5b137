"""Finished analyses shared by every session of the server, computed once each under a spinner
or a progress bar: trained weights, landscapes, correlations. Never a live model."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import streamlit as st


class Store:
    """Finished results shared by every session: state dicts and read-only arrays, never a model.

    Holds the newest `size`; one lock per key, so two sessions asking at once compute it once.
    """

    def __init__(self, size: int = 64):
        self.size = size
        self.items: OrderedDict[Hashable, object] = OrderedDict()
        self.locks: dict[Hashable, threading.Lock] = {}
        self.lock = threading.Lock()

    def has(self, key: Hashable) -> bool:
        with self.lock:
            return key in self.items

    def get(self, key: Hashable, compute: Callable[[], object]) -> object:
        with self.lock:
            key_lock = self.locks.setdefault(key, threading.Lock())
        with key_lock:
            with self.lock:
                if key in self.items:
                    self.items.move_to_end(key)
                    return self.items[key]
            value = compute()
            with self.lock:
                self.items[key] = value
                while len(self.items) > self.size:
                    self.locks.pop(self.items.popitem(last=False)[0], None)
            return value


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
