"""Which pixels made the network say what it said: Captum's attribution methods, each reduced to
one (H, W) map for one image, computed on an evaluation-mode copy of the network.

Baseline for integrated gradients and occlusion: 0 in normalised pixels, the dataset's mean
colour, an image that carries no information about any class.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion, Saliency
from torch import nn

from .models import blocks, eval_copy

METHODS = {
    "saliency": "The gradient of the class score with respect to each pixel, its largest size "
    "over the colour channels (Simonyan et al. 2014): where a small change would "
    "move the score most.",
    "integrated gradients": "Gradients averaged along the straight path from the mean-colour "
    "image to this one, times the difference (Sundararajan et al. 2017); "
    "they add up to the score's change. Red raised the score, blue "
    "lowered it.",
    "Grad-CAM": "The last stage's maps weighted by how much the class score depends on each "
    "channel, negative parts dropped, scaled up to the image (Selvaraju et al. "
    "2017): the coarse region the decision rests on.",
    "occlusion": "How much the class score drops when a 4x4 square is painted in the mean "
    "colour, square by square (Zeiler and Fergus 2014). Red: hiding it hurt.",
}
SIGNED = {"saliency": False, "integrated gradients": True, "Grad-CAM": False, "occlusion": True}


def predict(net: nn.Module, image: torch.Tensor) -> np.ndarray:
    """Class probabilities (classes,) for one normalised image (C, H, W)."""
    with torch.no_grad():
        return torch.softmax(eval_copy(net)(image[None]), 1)[0].numpy()


def attribute(
    net: nn.Module,
    image: torch.Tensor,
    target: int,
    method: str,
    steps: int = 64,
    window: int = 4,
    layer: str | None = None,
    batch: int = 64,
) -> np.ndarray:
    """The `method` map (H, W) for class `target` of one normalised image (C, H, W).

    Runs in the image's dtype (float64 for exact checks). `layer` names Grad-CAM's layer
    (`layer4` of torchvision's ResNet-18), found in the copy the method runs on; by default
    the last block of a `Net` (the last stage's output, 8x8 for 32 px inputs). `batch`: the
    integrated-gradients images run at once (their activations, kept for the backward pass,
    are what its memory grows with).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    net = eval_copy(net).to(image.dtype)
    x = image[None].detach().clone().requires_grad_(method != "occlusion")  # (1, C, H, W)
    if method == "saliency":  # abs of the gradient; max over colour channels (Simonyan, Sec. 3.1)
        return _map(Saliency(net).attribute(x, target=target, abs=True).amax(1))
    if method == "integrated gradients":  # summed over channels: completeness survives the sum
        ig = IntegratedGradients(net).attribute(
            x,
            baselines=torch.zeros_like(x),
            target=target,
            n_steps=steps,
            internal_batch_size=batch,
        )
        return _map(ig.sum(1))
    if method == "Grad-CAM":
        module = net.get_submodule(layer) if layer is not None else _last_block(net)
        cam = LayerGradCam(net, module).attribute(x, target=target, relu_attributions=True)
        return _map(LayerAttribution.interpolate(cam, x.shape[-2:], "bilinear")[:, 0])
    c = x.shape[1]  # occlusion: every channel of a window at once, windows overlapping by half
    occ = Occlusion(net).attribute(
        x,
        target=target,
        sliding_window_shapes=(c, window, window),
        strides=(c, window // 2, window // 2),
        baselines=0.0,
        perturbations_per_eval=64,
    )
    return _map(occ.mean(1))  # each channel holds the same value: the window's effect


def _last_block(net: nn.Module) -> nn.Module:
    found = blocks(net)
    if not found:
        raise ValueError("Grad-CAM needs a layer: this network has no residual-network blocks")
    return found[-1][1]


def _map(attr: torch.Tensor) -> np.ndarray:
    return attr[0].detach().cpu().numpy()  # (1, H, W) -> (H, W)
