"""Clustering over embedding arrays: kNN graph, the Hi-LANDER hierarchy, baselines, metrics. No database, no Qt."""

import warnings

# PyTorch Geometric 2.8 calls torch.jit.script at import, which torch now flags; nothing here uses TorchScript.
warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated", category=FutureWarning)


class WeightsError(Exception):
    """A weights file (or its card) that is not Hi-LANDER weights: damaged, cut short, or another kind of file.
    Defined here, not beside the loader, so that the command line catches it without importing torch."""
