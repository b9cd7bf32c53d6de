"""Probe (docs/hilander-ablation.md, "The species photo framed as ImageNet's evaluation frames it"): what the
centre framing costs where the animal is not in the middle. Each of the 200 pets-oxford photos is pasted at the
left or right edge (at random) of a grey 16:9 frame of its height, and the species encoder's leave-one-out
nearest-neighbour accuracy is measured with each framing, on the photos as shot and on the wide frames. The ImageNet
encoder alone: nothing learned is involved.

    .venv/bin/python docs/probes/species_off_centre.py
"""
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from photo_grouper.vision.species import EfficientNetSpeciesEncoder

CATS = ["Abyssinian", "Bombay", "Egyptian_Mau", "Siamese"]


def embed(encoder, paths):
    return np.concatenate([encoder.embed_pixels(np.stack([encoder._pixels(p) for p in paths[i:i + 25]]))
                           for i in range(0, len(paths), 25)])


def nearest_right(x, labels, among=None):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = x @ x.T
    np.fill_diagonal(s, -9)
    if among is not None:
        s[:, ~among] = -9
    right = labels[s.argmax(1)] == labels
    return right.mean() if among is None else right[among].mean()


if __name__ == "__main__":
    torch.set_num_threads(2)
    root = Path(__file__).resolve().parents[3] / "shared/data/pets-oxford"
    paths = sorted(p for d in root.iterdir() if d.is_dir() for p in d.iterdir())
    labels = np.array([p.parent.name for p in paths])
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        wide = []
        for i, path in enumerate(paths):
            im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
            width = max(round(im.height * 16 / 9), im.width + im.width // 2)
            frame = Image.new("RGB", (width, im.height), (128, 128, 128))
            frame.paste(im, (0 if rng.random() < 0.5 else width - im.width, 0))
            wide.append(Path(tmp) / f"{i}.png")
            frame.save(wide[-1])
        cats = np.isin(labels, CATS)
        for framing in ("squash", "center"):
            encoder = EfficientNetSpeciesEncoder(device="cpu", framing=framing)
            for name, photos in (("as shot", paths), ("at the side of 16:9", wide)):
                x = embed(encoder, photos)
                print(f"{framing:7s} {name:20s} all {nearest_right(x, labels):.3f}  cats among cats "
                      f"{nearest_right(x, labels, cats):.3f}  dogs among dogs {nearest_right(x, labels, ~cats):.3f}",
                      flush=True)
