"""Community Cloud's entrypoint (cloud/streamlit_app.py) runs the same app as app.py, and its
requirements differ from the root's only by torch's CPU wheels."""

from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT, TIMEOUT


def _requirements(path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def _open(script: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_cloud_entrypoint_shows_the_same_pages_and_switches_between_them():
    app, cloud = _open("app.py"), _open("cloud/streamlit_app.py")
    assert cloud.title[0].value == app.title[0].value == "Why residual networks work"
    assert [el.proto.page for el in cloud.get("page_link")] == [
        el.proto.page for el in app.get("page_link")
    ]
    # Starts a preset, then opens the Train page.
    cloud.button(key="home_preset_degradation").click()
    cloud.run()
    assert not cloud.exception, cloud.exception
    assert cloud.title[0].value == "Train plain and residual networks"
    cloud.session_state["work"].job.stop()


def test_the_cloud_requirements_are_the_root_s_with_cpu_wheels():
    root = _requirements(ROOT / "requirements.txt")
    cloud = _requirements(ROOT / "cloud" / "requirements.txt")
    assert cloud[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    cpu = {line.split("==")[0]: line for line in cloud[1:3]}
    pinned = {line.split("==")[0]: line for line in root[:2]}
    assert cpu == {name: f"{pinned[name]}+cpu" for name in ("torch", "torchvision")}
    assert cloud[3:] == root[2:]
