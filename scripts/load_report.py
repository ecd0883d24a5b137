"""The load test's figures: what every session saw, and how good the queue's estimates were."""

from __future__ import annotations

import statistics


def report(r: dict, out=print) -> None:
    ss = r["sessions"]
    renders = sorted(x for s in ss for x in s.renders)
    out(
        f"{'session':>7} {'started':14} {'queue positions':16} {'ended':26} {'seconds':>7} "
        f"{'history':>7} {'saved':>5}"
    )
    for s in ss:
        saved = r["runs"][s.index]
        out(
            f"{s.index:>7} {s.how:14} {','.join(map(str, sorted(s.positions))) or '-':16} "
            f"{(s.ended or ('tab closed' if s.closed else 'still waiting')):26} {s.seconds:7.1f} "
            f"{s.history:>7} {len(saved):>5}"
        )
    if renders:
        p95 = (
            statistics.quantiles(renders, n=20, method="inclusive")[18]
            if len(renders) > 1
            else renders[0]
        )
        out(
            f"page changes while training: {len(renders)}, p50 {statistics.median(renders):.2f} s,"
            f" p95 {p95:.2f} s, max {renders[-1]:.2f} s"
        )
    out(
        f"server RSS: pages loaded {r['cold']:,.0f} MB, after a first 10-step run (the baseline) "
        f"{r['baseline']:,.0f} MB, peak {r['peak']:,.0f} MB, after all tabs closed "
        f"{r['after']:,.0f} MB"
    )
    out(f"sessions with distinct run folders: {len({s.sid for s in ss if s.sid})} of {len(ss)}")
    if shown := [s for s in ss if s.refusals]:
        out(
            f"hostile uploads refused: {sum(len(s.refusals) for s in shown)} sentences in "
            f"{len(shown)} sessions; session {shown[0].index}'s:"
        )
        for sentence in shown[0].refusals:
            out(f"  {sentence}")
    ended = [s.seconds for s in ss if s.ended.startswith("done")]
    if ended:
        out(
            f"sessions showing their final curves: {len(ended)} of {len(ss)} "
            f"({sum(s.via == 'websocket' for s in ss)} through the websocket protocol), "
            f"{min(ended):.0f}-{max(ended):.0f} s after their click or link, median "
            f"{statistics.median(ended):.0f} s"
        )
    estimates(r, out)


def estimates(r: dict, out=print) -> None:
    """Each waiting session's estimates against when its job really started (the start of
    training as its run file records it: the file's time less the run's elapsed seconds): the
    first shown, the last before the start, and the worst of all it read."""
    rows = [
        (s, started)
        for s in r["sessions"]
        if s.etas
        and s.ended.startswith("done")
        and (started := _started(r["runs"][s.index], s.clicked)) is not None
    ]
    if not rows:
        return
    out(
        f"{'session':>7} {'first in':>8} {'first estimate':>14} {'error':>6} {'last estimate':>13} "
        f"{'error':>6} {'worst':>6} {'real start':>10} {'shown running':>13}"
    )
    first, last, worst = [], [], []
    for s, started in rows:
        errors = [abs(eta - started) / max(started, 1.0) for eta in s.etas]
        first.append(errors[0])
        last.append(errors[-1])
        worst.append(max(errors))
        out(
            f"{s.index:>7} {max(s.positions or {0}):>8} {s.etas[0]:>13.0f}s {first[-1]:>6.0%} "
            f"{s.etas[-1]:>12.0f}s {last[-1]:>6.0%} {worst[-1]:>6.0%} {started:>9.0f}s "
            f"{s.shown_running:>12.0f}s"
        )
    out(
        "estimated starts (seconds after the click) against the real start: "
        + ", ".join(
            f"{name} within {max(e):.0%} ({sum(x <= 0.3 for x in e)} of {len(e)} within 30%)"
            for name, e in (("the first shown", first), ("the last", last), ("all", worst))
        )
    )


def _started(runs: list[dict], clicked: float) -> float | None:
    """Seconds from the click to the start of training, from the newest run file's records."""
    done = [r for r in runs if r["records"] and r["records"][-1].get("elapsed")]
    if not done:
        return None
    run = done[-1]
    return run["saved"] - run["records"][-1]["elapsed"] - clicked
