"""Home: the five steps link to their pages; a preset starts a run and opens the Train page."""


def test_the_lesson_links_every_step_to_its_page(open_page):
    at = open_page("pages/home.py")
    links = [el.proto.page for el in at.get("page_link")]
    assert links == ["conv", "block", "builder", "training", "gradients"]  # the pages' url paths
    assert "CPU" in at.sidebar.caption[0].value or "GPU" in at.sidebar.caption[0].value


def test_a_preset_starts_training_and_switches_to_the_train_page(open_page):
    at = open_page("pages/home.py")
    at.button(key="home-degradation").click()
    at.run()
    assert at.title[0].value == "Train plain and residual networks"
    work = at.session_state["work"]
    assert [r.net.label for r in work.job.runs] == ["plain-20", "ResNet-20", "plain-56", "ResNet-56"]
    work.job.stop()


def test_a_second_click_while_training_does_not_start_another_run(open_page):
    at = open_page("pages/home.py")
    at.button(key="home-vanishing").click()
    at.run()
    work = at.session_state["work"]
    first = work.job
    work.start([])  # what a second click submits: ignored while the first job trains
    assert work.job is first and first.active
    first.stop()
