"""A Streamlit session without a browser, for the load test's larger classrooms: it speaks the
app's own websocket protocol (protobuf BackMsg and ForwardMsg), opens a page with a query
string, answers each fragment's auto-rerun as the browser does, and keeps every text the page
shows with the time it arrived. It can submit a form once: the values of some keyed widgets and
a click of a keyed button, sent as the browser sends them. It draws nothing, so a 2-core machine
can hold dozens.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

TEXTS = {"progress": "text", "alert": "body", "markdown": "body", "code": "code_text"}
KEYED = re.compile(r"^\$\$ID-[0-9a-f]{32}-(.+)$")  # a keyed widget's id: a hash, then its key


@dataclass
class Form:
    """What to submit once every widget named is on the page and `go` is set: each key's value
    (an int for a number input, a list for a slider) and the key of the button to click."""

    values: dict[str, int | list[float]]
    button: str
    go: asyncio.Event
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # its widgets are on the page
    sent: float = 0.0  # time.monotonic() of the click

    def states(self, ids: dict[str, str]) -> list[WidgetState]:
        states = [WidgetState(id=ids[self.button], trigger_value=True)]
        for key, value in self.values.items():
            state = WidgetState(id=ids[key])
            if isinstance(value, list):
                state.double_array_value.data.extend(value)
            else:
                state.int_value = value
            states.append(state)
        return states


@dataclass
class Tab:
    url: str  # the server, http://host:port
    page: str  # the page's url path: "training"
    query: str  # its query string, without "?"
    seen: list[tuple[float, str]] = field(default_factory=list)  # (time.monotonic(), text)
    opened: float = 0.0
    form: Form | None = None
    ids: dict[str, str] = field(default_factory=dict)  # widget key -> its id on the page

    def first(self, pattern: re.Pattern) -> tuple[float, re.Match] | None:
        """When a text matching `pattern` was first shown, and the match."""
        return next(((t, m) for t, text in self.seen if (m := pattern.search(text))), None)

    async def run(self, until: re.Pattern, timeout: float) -> bool:
        """Open the page and follow it until a text matches `until` (True) or `timeout`."""
        ws_url = self.url.replace("http", "ws", 1) + "/_stcore/stream"
        self.opened = time.monotonic()
        timers: dict[str, asyncio.Task] = {}
        async with websockets.connect(
            ws_url, subprotocols=["streamlit"], max_size=None, ping_interval=None
        ) as ws:
            page_hash = ""
            await ws.send(self._rerun(page_name=self.page))
            try:
                async with asyncio.timeout(timeout):
                    while True:
                        msg = ForwardMsg.FromString(await ws.recv())
                        kind = msg.WhichOneof("type")
                        if kind == "new_session":
                            page_hash = msg.new_session.page_script_hash
                        elif kind == "page_info_changed":
                            self.query = msg.page_info_changed.query_string
                        elif kind == "auto_rerun":
                            fid, every = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
                            if fid in timers:
                                timers.pop(fid).cancel()
                            latest = lambda: page_hash  # noqa: B023, E731 - the page now
                            timers[fid] = asyncio.create_task(self._every(ws, every, fid, latest))
                        elif kind == "stop_auto_rerun":
                            for fid in msg.stop_auto_rerun.fragment_ids:
                                if fid in timers:
                                    timers.pop(fid).cancel()
                        elif kind == "delta":
                            self._keep_id(msg)
                            if self.form and not self.form.ready.is_set() and self._can_submit():
                                self.form.ready.set()
                                timers["submit"] = asyncio.create_task(self._submit(ws))
                            if (text := _text(msg)) is not None:
                                self.seen.append((time.monotonic(), text))
                                if until.search(text):
                                    return True
            except TimeoutError:
                return False
            finally:
                for task in timers.values():
                    task.cancel()

    def _keep_id(self, msg: ForwardMsg) -> None:
        if msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        widget = getattr(element, element.WhichOneof("type") or "", None)
        if (wid := getattr(widget, "id", "")) and (m := KEYED.search(wid)):
            self.ids[m[1]] = wid

    def _can_submit(self) -> bool:
        assert self.form is not None
        return all(k in self.ids for k in (*self.form.values, self.form.button))

    async def _submit(self, ws) -> None:
        assert self.form is not None
        await self.form.go.wait()
        self.form.sent = time.monotonic()
        await ws.send(self._rerun(page_name=self.page, widgets=self.form.states(self.ids)))

    def _rerun(
        self,
        page_name: str = "",
        page_hash: str = "",
        fragment: str = "",
        widgets: Sequence[WidgetState] = (),
    ) -> bytes:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = page_name
        state.page_script_hash = page_hash
        state.widget_states.widgets.extend(widgets)
        if fragment:
            state.fragment_id, state.is_auto_rerun = fragment, True
        return msg.SerializeToString()

    async def _every(self, ws, seconds: float, fragment: str, page_hash) -> None:
        while True:
            await asyncio.sleep(seconds)
            await ws.send(self._rerun(page_hash=page_hash(), fragment=fragment))


def _text(msg: ForwardMsg) -> str | None:
    delta = msg.delta
    if delta.WhichOneof("type") != "new_element":
        return None
    element = delta.new_element
    kind = element.WhichOneof("type")
    return getattr(getattr(element, kind), TEXTS[kind]) if kind in TEXTS else None
