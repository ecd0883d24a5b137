"""The load test's sessions and what one does in the browser: open the app, change pages, fill
the Train form, make the hostile uploads of the hardening issue (`scripts.load` drives them)."""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts.appserver import READY, ROOT

TRAIN_TITLE, BUILD_TITLE = "Train plain and residual networks", "Build a network"
REF = ROOT / "assets" / "reference" / "mnist-5k" / "plain-20-85308218.json"


@dataclass
class Session:
    index: int
    how: str  # what it started: a preset's key or "custom"
    sid: str = ""  # its ?session= id: the folder of its runs
    positions: set = field(default_factory=set)  # queue positions it was shown
    ended: str = ""  # "done: step 180 of 180", or "" if still running at the deadline
    renders: list = field(default_factory=list)  # seconds per page change while training
    seconds: float = 0.0  # click to end
    history: int = -1  # runs its History lists (chips in the compare box)
    closed: bool = False
    refusals: list = field(default_factory=list)  # with --hostile: the sentences it was shown
    via: str = "browser"  # or "websocket"
    clicked: float = 0.0  # time.time() of its click, or of opening the link
    etas: list = field(default_factory=list)  # each estimated start read (s after the click)
    shown_running: float = 0.0  # seconds after the click when its page first showed it training


def seconds(text: str) -> float:
    """ "1 min 05 s" or "35 s" as seconds."""
    minutes = re.search(r"(\d+) min", text)
    return 60 * int(minutes[1] if minutes else 0) + int(re.search(r"(\d+) s", text)[1])


def rss_mb(pid: int, field_name: str = "VmRSS:") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split(field_name)[1].split()[0]) / 1024


async def _ready(page, timeout=120_000) -> None:
    await page.wait_for_selector(READY, timeout=timeout)


async def _open(page, url: str) -> None:
    await page.goto(url)
    await _ready(page)
    await page.keyboard.press("Escape")  # the one-time "Page not found" notice, if any


async def _goto_page(page, link: str, title: str) -> float:
    """Click a sidebar link and time it until the page's title is drawn and the run has ended;
    in classroom mode the sidebar starts folded, and is opened first as a learner would."""
    t0 = time.perf_counter()
    target = page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=link, exact=True)
    if await (unfold := page.get_by_test_id("stExpandSidebarButton")).is_visible():
        await unfold.click()
    await target.click()
    await page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
    await _ready(page)
    return time.perf_counter() - t0


async def _fill_custom(page, steps: int, width: int) -> None:
    """One ResNet-20 in the Train form, of this many steps and this width."""
    await page.get_by_text("Your own configurations", exact=True).click()
    await page.locator(".st-key-train_configs").get_by_role("slider").press("Home")  # 1 network
    for key, value in (("train_steps", steps), ("train_width", width)):
        box = page.locator(f".st-key-{key} input")
        await box.fill(str(value))
        await box.press("Tab")  # Enter would submit the form before the next field is set


def hostile_files(folder: Path, index: int) -> tuple[Path, list[Path], Path]:
    """Session `index`'s own copies of the issue's uploads (its own, so no cache of another
    session's helps): the PNG, sixteen run files of 445,000 records, the brick."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"big-{index}.png"
    buf = io.BytesIO()
    Image.new("RGB", (4000, 4000), (200, 30, index % 256)).save(buf, "PNG", optimize=True)
    png.write_bytes(buf.getvalue())
    ref = REF.read_text()
    head, tail = ref[: ref.index('"records":[')], "]}"
    tiny = ",".join(['{"step":1}'] * 445_000)
    runs = []
    for k in range(16):
        path = folder / f"tiny-{index}-{k}.json"
        path.write_text(
            head.replace('"name":""', f'"name":"tiny {index}.{k}"') + f'"records":[{tiny}' + tail
        )
        runs.append(path)
    brick = folder / f"brick-{index}.json"
    brick.write_text(
        ref.replace('"step":1,', '"step":1e999,', 1).replace('"name":""', f'"name":"brick {index}"')
    )
    return png, runs, brick


async def _upload(page, key: str, files, shown: str | None = None) -> None:
    """Upload and wait for the page's answer: `shown` (a refusal's words), else the file."""
    await page.locator(f".st-key-{key} input[type='file']").set_input_files(files)
    if shown:
        await page.get_by_text(shown).first.wait_for(timeout=300_000)
    else:  # the file's name shown in the uploader
        await page.locator(f".st-key-{key}").get_by_text(Path(files).name).wait_for(timeout=300_000)
    await page.wait_for_timeout(500)
    await _ready(page, timeout=300_000)


async def _alerts(page) -> list[str]:
    return await page.locator(
        "[data-testid='stAlertContentError'], [data-testid='stAlertContentWarning']"
    ).all_inner_texts()


async def _hostile(s: Session, page, url: str, files: tuple[Path, list[Path], Path]) -> None:
    png, runs, brick = files
    await _open(page, url + "/conv")
    await page.locator(".st-key-conv_source").get_by_text("Upload", exact=True).click()
    await _ready(page)
    await _upload(page, "conv_upload", png)
    for value in ("2", "3"):  # kernel edits: each reruns the page with the image
        box = page.locator(".st-key-conv_kernel_0 input")
        await box.fill(value)
        await box.press("Enter")
        await page.wait_for_timeout(500)
        await _ready(page)
    await _goto_page(page, "Experiments", "Experiments")
    await page.locator(".st-key-exp_source").get_by_text("Upload run files", exact=True).click()
    await _ready(page)
    await _upload(page, "exp_upload", runs, "one upload reads")
    s.refusals += await _alerts(page)
    await _goto_page(page, "Train", TRAIN_TITLE)
    await _upload(page, "train_upload", brick, f"{brick.name}: ")
    s.refusals += await _alerts(page)
