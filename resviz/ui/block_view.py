"""The Residual block page's computations, cached once per server for every session: each is
deterministic (seed 0, the first batch of the training split, on the CPU)."""

from __future__ import annotations

import streamlit as st

from .. import block_wiring, lesson_residual_block
from .state import dataset


@st.cache_data(show_spinner="Building four networks and running one batch through them...")
def profile(name: str, depth: int) -> lesson_residual_block.GradientProfile:
    return lesson_residual_block.gradient_profile(dataset(name), depth)


@st.cache_data(show_spinner=False)
def settling(name: str, depth: int) -> lesson_residual_block.Settling:
    return lesson_residual_block.settling(dataset(name), depth)


@st.cache_data(show_spinner=False)
def wiring(image: tuple, stage: int, skip: bool, shortcut: str) -> block_wiring.Wiring:
    # Shapes only (no weights matter): one forward pass per combination.
    return block_wiring.block_wiring(image, stage, skip, shortcut)
