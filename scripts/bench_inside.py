"""The Inside-the-network page's costs and its edges -> shapes -> objects measurement, on the
network the page trains on demand (ResNet-20, width 8, on Shapes). Prints two tables.

    python -m scripts.bench_inside [--steps 300] [--repeats 5] [--am-steps 128]

Each time is the median of `repeats` runs after one warm-up, on one image of the validation
split; the edge fit and the linear probes compare the trained weights with the seeded initial
ones they started from.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from resviz import attribution, features
from resviz import data as datasets
from resviz.runtime import configure_threads, describe_device, pick_device
from resviz.train import build_seeded


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: allocator, oneDNN primitives
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def timings(net, data, args) -> list[tuple[str, float]]:
    image, target = data.x_val[0], int(data.y_val[0])
    rows = [(f"{method}" + (" (64 steps)" if method == "integrated gradients" else ""),
             median_ms(lambda m=method: attribution.attribute(net, image, target, m),
                       args.repeats)) for method in attribution.METHODS]
    for layer in ("stage2.block1", "stage3.block3"):
        rows.append((f"activation maximisation, 1 image, {args.am_steps} steps, {layer}",
                     median_ms(lambda layer=layer: features.activation_maximisation(
                         net, layer, [0], data, args.am_steps), max(1, args.repeats // 2))))
    rows.append(("top patches, every channel of stage2.block1, 1000 images",
                 median_ms(lambda: features.top_units(net, data.x_val, "stage2.block1"), 1)))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--am-steps", type=int, default=128)
    args = p.parse_args()
    configure_threads()
    data = datasets.load("shapes")
    net_cfg, cfg = features.preset(data.info, args.steps)
    t0 = time.perf_counter()
    net = features.from_state(net_cfg, features.train_weights(net_cfg, cfg, data))
    trained_s = time.perf_counter() - t0
    initial = build_seeded(net_cfg, cfg.seed).eval()
    print(f"{net_cfg.label} width {net_cfg.width} on Shapes, {args.steps} steps of batch "
          f"{cfg.batch_size}: trained in {trained_s:.1f} s on {describe_device(pick_device())}")
    print(f"\n{'what':<68}{'ms':>8}")
    for what, ms in timings(net, data, args):
        print(f"{what:<68}{ms:>8.1f}")

    fit0, fit1 = (features.edge_fit(features.first_layer_filters(n)) for n in (initial, net))
    print(f"\nedge fit of the first layer's {len(fit1)} kernels (random 3x3: 0.25): "
          f"{fit0.mean():.2f} at initialisation, {fit1.mean():.2f} after training; "
          f"{(fit1 > fit0.max()).sum()} trained kernels beat every initial one")
    names = features.layer_names(net)
    probe1, probe0 = (features.probe_accuracy(n, data, names) for n in (net, initial))
    marks = features.depth_labels(names)
    print(f"linear probe on channels averaged over the image, validation accuracy "
          f"(chance {1 / len(data.classes):.0%}):")
    print(f"{'layer':<16}{'':<8}{'trained':>9}{'initial':>9}")
    for name in names:
        print(f"{name:<16}{marks.get(name, ''):<8}{probe1[name]:>9.1%}{probe0[name]:>9.1%}")


if __name__ == "__main__":
    main()
