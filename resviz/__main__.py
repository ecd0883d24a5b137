"""`python -m resviz`: headless training, depth sweeps, layer summaries and the dataset list."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from . import data as datasets
from . import sweep
from .architecture import variant
from .claims import gradient_claim, say
from .config import (
    ARCHS,
    FAMILIES,
    IS_RESIDUAL,
    PRECISIONS,
    SCHEDULES,
    SHORTCUTS,
    ConfigError,
    NetConfig,
    TrainConfig,
)
from .gradients import probe_steps
from .models import build
from .paper import PLAIN_CURVES, paper_network, published_cost
from .runs import Run, check_writable, dumps, recorded, save, write_problem
from .runtime import environment, pick_device
from .schema import Status
from .summary import summarize, totals
from .summary import text as layer_text
from .train import train


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(2, f"resviz: {message}\n")


def _net_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", choices=ARCHS, default="residual")
    p.add_argument("--family", choices=FAMILIES, default="cifar")
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--width", type=int, default=None, help="channels of the first stage")
    p.add_argument("--shortcut", choices=SHORTCUTS, default="A")
    p.add_argument("--no-bn", action="store_true", help="leave batch norm out")
    p.add_argument("--dataset", default="mnist-5k")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m resviz", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train one network headless and write its run file")
    _net_args(t)
    t.add_argument("--steps", type=int, default=200)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=0.1)
    _schedule_args(t)
    t.add_argument("--eval-every", type=int, default=20)
    t.add_argument("--probe-every", type=int, default=10)
    t.add_argument("--device", default="auto")
    t.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="bf16: autocast convolutions to bfloat16 (faster where supported)",
    )
    t.add_argument("--out", required=True, help="run file to write (.json)")
    s = sub.add_parser("summary", help="layer table: output shapes, parameters, multiply-adds")
    _net_args(s)
    s.add_argument(
        "--paper",
        action="store_true",
        help="the paper's network of this family and depth, not one sized for "
        "--dataset: ImageNet at 224 px colour, 1000 classes, 7x7 stem, "
        "projection shortcuts (as torchvision); CIFAR-10 at 32 px, width 16",
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(shortcut=None)  # the default depends on --paper: see cmd_summary
    sub.add_parser("datasets", help="each dataset, its shape, and whether it works offline now")
    _sweep_args(
        sub.add_parser(
            "sweep",
            help="plain and residual networks across depths, one run file each; a rerun resumes",
        )
    )
    return p


def _schedule_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="cosine",
        help="the learning rate after warm-up: cosine to 0, step (divided by 10 at "
        "50%% and 75%% of the steps, as the paper), or constant",
    )
    p.add_argument(
        "--warmup-steps",
        type=int,
        default=0,
        help="raise the learning rate linearly over these first steps (the paper "
        "warms ResNet-110 up at 0.01)",
    )


def _sweep_args(w: argparse.ArgumentParser) -> None:
    w.add_argument("--out", help="folder for the run files (one per configuration)")
    w.add_argument("--depths", type=int, nargs="+", default=list(PLAIN_CURVES))
    w.add_argument("--arch", nargs="+", choices=ARCHS, default=list(ARCHS))
    w.add_argument("--steps", type=int, default=200)
    w.add_argument("--batch-size", type=int, default=64)
    w.add_argument("--width", type=int, default=None, help="channels of the first stage")
    w.add_argument(
        "--seeds",
        "--seed",
        type=int,
        nargs="+",
        default=[0],
        help="train every configuration once per seed (the table gives mean and "
        "standard deviation)",
    )
    w.add_argument("--lr", type=float, default=0.1)
    _schedule_args(w)
    w.add_argument("--eval-every", type=int, default=20)
    w.add_argument("--no-bn", action="store_true", help="leave batch norm out")
    w.add_argument("--precision", choices=PRECISIONS, default="fp32")
    w.add_argument("--dataset", default="mnist-5k")
    w.add_argument(
        "--only",
        nargs="+",
        metavar="LABEL",
        help="train only these configurations (see --list): split a sweep",
    )
    w.add_argument("--list", action="store_true", help="print the configurations' labels")
    w.add_argument(
        "--keep-every",
        type=int,
        default=1,
        help="keep every K-th training record (and every evaluation) in the files",
    )
    w.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="train on a Ray cluster (ray://head:10001, auto, or local for one on "
        "this machine): pip install -r requirements-cluster.txt",
    )
    w.add_argument("--workers", type=int, help="with --ray: configurations training at once")


def net_config(args: argparse.Namespace) -> NetConfig:
    info = datasets.info(args.dataset)
    return info.net(
        family=args.family,
        depth=args.depth,
        residual=IS_RESIDUAL[args.arch],
        batch_norm=not args.no_bn,
        width=args.width,
        shortcut=args.shortcut,
    )


def _progress(rec: dict, steps: int) -> None:
    done = int(30 * rec["step"] / steps)
    err = rec.get("train_error")
    tail = f"loss {rec['train_loss']:.3f}  err {err:6.1%}" if err is not None else "diverged"
    sys.stderr.write(f"\r[{'#' * done}{'.' * (30 - done)}] {rec['step']}/{steps}  {tail}")
    sys.stderr.flush()


def _run_file(out: str) -> Path:
    """--out, checked before anything trains (a bad path once failed only after training)."""
    path = Path(out)
    if path.is_dir() or out.endswith(("/", "\\")):
        raise ConfigError(
            f"--out {out} is a folder; give the run file's name, such as {path / 'run.json'}"
        )
    try:
        check_writable(path.parent)
    except OSError as e:
        raise ConfigError(f"cannot write the run file {out} ({write_problem(e)})") from None
    return path


def _train_config(args: argparse.Namespace, **more) -> TrainConfig:
    """The training settings `train` and `sweep` share, and `more` of a command's own."""
    return TrainConfig(
        dataset=args.dataset,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule=args.schedule,
        warmup_steps=args.warmup_steps,
        eval_every=args.eval_every,
        precision=args.precision,
        **more,
    )


def cmd_train(args: argparse.Namespace) -> int:
    net_cfg = net_config(args)
    cfg = _train_config(args, seed=args.seed, probe_every=args.probe_every, device=args.device)
    out = _run_file(args.out)
    run = recorded(
        Run(net_cfg, cfg, env=environment(pick_device(cfg.device))),
        train(net_cfg, cfg),
        lambda rec: _progress(rec, cfg.steps),
    )
    sys.stderr.write("\n")
    try:
        path = save(run, out.parent, out.stem)
    except OSError as e:  # the disk filled while training: the run is not lost
        sys.stderr.write(
            f"resviz: could not write {out} ({write_problem(e)}); the run file "
            f"follows on standard output\n"
        )
        print(dumps(run))
        return 1
    summary = run.message or (
        f"validation error {run.records[-1]['val_error']:.2%}, "
        f"training error {run.records[-1]['train_error']:.2%}"
    )
    print(f"{run.label}: {summary}; wrote {path}")
    for line in gradient_verdicts(run):
        print(line.replace("**", ""))
    return 0


def gradient_verdicts(run: Run) -> list[str]:
    """The claims' gradient rule as initialised and at the last probed step."""
    steps = probe_steps([run])
    judged = [gradient_claim(run, s) for s in dict.fromkeys(steps[:1] + steps[-1:])]
    return say(c for c in judged if c is not None)


def cmd_summary(args: argparse.Namespace) -> int:
    args.shortcut = args.shortcut or ("B" if args.paper and args.family == "imagenet" else "A")
    if args.paper:
        paper_cfg, size = paper_network(args.family, args.depth, IS_RESIDUAL[args.arch])
        net_cfg = replace(
            paper_cfg,
            batch_norm=not args.no_bn,
            shortcut=args.shortcut,
            width=args.width or paper_cfg.width,
        )
    else:
        net_cfg, size = net_config(args), datasets.info(args.dataset).size
    rows = summarize(build(net_cfg), (net_cfg.in_channels, size, size))
    what = variant(net_cfg, size)
    if args.json:
        print(
            json.dumps(
                {
                    "net": net_cfg.to_dict(),
                    "variant": what,
                    "input": [net_cfg.in_channels, size, size],
                    "layers": [r.__dict__ for r in rows],
                    "totals": totals(rows),
                },
                default=list,
            )
        )
        return 0
    print(layer_text(rows))
    t = totals(rows)
    print(
        f"{net_cfg.label} ({what}): {t['params']:,} parameters, {t['macs']:,} multiply-adds "
        f"per image ({t['macs'] / 1e9:.2f} x 10^9)"
    )
    if args.paper and (cost := published_cost(net_cfg)):
        print(f"The paper, {cost}.")
    elif not args.paper:
        print("Sized for the dataset; --paper prints the paper's network of this depth.")
    return 0


def cmd_datasets(_args: argparse.Namespace) -> int:
    ready = datasets.availability()
    for name, info in datasets.DATASETS.items():
        shape = f"{info.channels}x{info.size}x{info.size}"
        state = "offline" if info.offline else ("downloaded" if ready[name] else "needs download")
        print(f"{name:<15}{info.title:<40}{shape:>9}  {info.num_classes:>3} classes  {state}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    info = datasets.info(args.dataset)
    cfg = _train_config(args, seed=args.seeds[0])
    entries = sweep.select(
        sweep.plan(
            args.depths,
            args.arch,
            cfg,
            args.seeds,
            width=args.width,
            batch_norm=not args.no_bn,
            in_channels=info.channels,
            num_classes=info.num_classes,
        ),
        args.only,
    )
    if args.list:
        print("\n".join(dict.fromkeys(e.label for e in entries)))
        return 0
    if args.keep_every < 1:
        raise ConfigError(
            f"keep-every must be at least 1 (1 keeps every record), not {args.keep_every}"
        )
    _sweep_folder(args.out)
    if args.ray:
        return _sweep_on_ray(args, entries)
    data = None  # loaded once, and only if something is left to train
    try:
        for i, entry in enumerate(entries, 1):
            path = Path(args.out) / f"{entry.filename}.json"
            if sweep.finished(path):
                print(f"[{i}/{len(entries)}] {entry.name}: finished earlier, skipped ({path})")
                continue
            sys.stderr.write(f"[{i}/{len(entries)}] {entry.name}\n")
            data = data or datasets.load(args.dataset)
            path = sweep.run_one(
                entry, args.out, args.keep_every, data, lambda rec: _progress(rec, cfg.steps)
            )
            sys.stderr.write("\n")
            print(f"[{i}/{len(entries)}] {entry.name}: wrote {path}")
    except KeyboardInterrupt:
        sys.stderr.write("\nresviz: interrupted; run the same command again to resume\n")
        return 130
    print(sweep.table(args.out, entries))
    return 0


def _sweep_on_ray(args: argparse.Namespace, entries: list[sweep.Entry]) -> int:
    """The sweep's unfinished runs as Ray actors; 1 if a worker died (a rerun retrains them)."""
    from . import cluster

    left = [e for e in entries if not sweep.finished(Path(args.out) / f"{e.filename}.json")]
    for e in entries:
        if e not in left:
            print(f"{e.name}: finished earlier, skipped")
    outcomes = cluster.run_sweep(
        left,
        args.out,
        args.ray,
        args.keep_every,
        args.workers,
        on_end=lambda e, outcome: print(f"{e.name}: {outcome}"),
    )
    print(sweep.table(args.out, entries))
    return int(Status.FAILED in outcomes.values())


def _sweep_folder(out: str | None) -> None:
    """Check --out before anything trains: a run file only fails to save after its training."""
    if not out:
        raise ConfigError("the sweep needs --out, the folder for its run files")
    if Path(out).exists() and not Path(out).is_dir():
        raise ConfigError(f"--out must be a folder for the run files, but {out} is a file")
    try:
        check_writable(out)
    except OSError as e:
        raise ConfigError(f"cannot write the run files into {out} ({write_problem(e)})") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    torch.set_num_threads(1)  # small forward passes run fastest on one; training picks its own
    try:
        return {
            "train": cmd_train,
            "summary": cmd_summary,
            "datasets": cmd_datasets,
            "sweep": cmd_sweep,
        }[args.command](args)
    except (ConfigError, datasets.DatasetUnavailable) as e:  # what the user asked for; a bug raises
        sys.stderr.write(f"resviz: {e}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
