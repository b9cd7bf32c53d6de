"""LANDER (Xing et al., ICCV 2021), PyTorch Geometric style: graph conv on ``[x ‖ c]``, an edge head that says
whether two nodes are the same identity, and density computed from the edge probabilities.

Ours differs from the reference in one input: the edge head also sees the edge's neighbourhood features
(``graph.EDGE_FEATURES``: raw similarity, rank, mutual link, shared neighbours, local scale), which the paper's
edge head recovers only through the node embeddings.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv, MessagePassing
from torch_geometric.utils import scatter

from .graph import EDGE_FEATURES, NODE_PROFILE, LevelGraph


def _remove_generated_source(cls: type) -> None:
    """PyG writes the ``propagate`` it generates for a conv class to a temporary .py file, imports it, and leaves
    the file behind: one more in the temporary folder for every process that builds a model (58 had piled up here
    after a day of tests). The module is loaded by now; its file is not read again."""
    prefix = f"{cls.__module__}_{cls.__name__}"
    for name in (f"{prefix}_propagate", f"{prefix}_edge_updater"):
        path = getattr(sys.modules.get(name), "__file__", None)
        if path and os.path.dirname(path) == tempfile.gettempdir():
            with suppress(OSError):
                os.remove(path)


class WeightedMeanConv(MessagePassing):
    r"""The LANDER graph convolution: :math:`h_i = \mathrm{ReLU}(W [z_i \Vert \sum_j a_{ij} z_j] + b)` with
    row-normalised edge weights :math:`a_{ij}`.

    Shapes:
        - **input:** node features :math:`(N, F_{in})`, edge index :math:`(2, E)`, edge weights :math:`(E,)`
        - **output:** node features :math:`(N, F_{out})`
    """

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__(aggr="add")
        _remove_generated_source(type(self))
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.lin = nn.Linear(2 * in_channels, out_channels)
        self.dropout = dropout
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin.reset_parameters()

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        agg = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        out = F.relu(self.lin(torch.cat([x, agg], dim=-1)))
        return F.dropout(out, p=self.dropout, training=self.training)

    def message(self, x_j: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        return edge_weight.unsqueeze(-1) * x_j

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"


class AttentionConv(nn.Module):
    """The reference's layer for species (its iNat2018 recipe, ``--gat``, one head): graph attention (PyG's
    GATConv) then ReLU, the weights of the neighbours learned from the two ends instead of the similarity weights
    a_ij. Self-loops are added, so a node keeps its own features (the weighted-mean conv concatenates them)."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__()
        self.gat = GATConv(in_channels, out_channels, heads=1, concat=False, add_self_loops=True)
        _remove_generated_source(GATConv)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.gat(x, edge_index))
        return F.dropout(out, p=self.dropout, training=self.training)


CONVS = {"mean": WeightedMeanConv, "gat": AttentionConv}


# Edges per slice of the edge head at inference. On the CPU a slice's activations should stay in cache: 4,096
# edges (4 MB of 256-wide inputs) ran the faces ensemble on 200,000 photos in 12 s against 26 s for 131,072, with
# bit-identical output (2 cores; 1.8x on 1). On CUDA large slices keep the device busy (kernel launches).
EDGE_CHUNK = 1 << 12
EDGE_CHUNK_CUDA = 1 << 17
# Slices of the edge head between two ticks of progress (at a million photos on the CPU about 0.1 s of work).
TICK_SLICES = 64


class Lander(nn.Module):
    """Edge connectivity and node density for one level's graph.

    Shapes:
        - **input:** a :class:`LevelGraph` with node input :math:`(N, 2d)` and :math:`E` edges
        - **output:** edge logits :math:`(E, 2)` (column 1: same identity), density :math:`(N,)`
    """

    def __init__(self, feature_dim: int, hidden: int = 512, num_conv: int = 1, dropout: float = 0.0,
                 edge_features: bool = True, pair_product: bool = True, node_input: str = "embedding",
                 edge_hidden: int = 256, conv: str = "mean"):
        super().__init__()
        self.feature_dim = feature_dim
        self.hidden = hidden
        self.use_edge_features = edge_features
        self.use_pair_product = pair_product
        if node_input not in ("embedding", "profile"):
            raise ValueError(f"node_input must be 'embedding' or 'profile', not {node_input!r}")
        # "embedding": the paper's [x ‖ c]. "profile": only similarities, which carry over to unseen identities.
        self.node_input = node_input
        if conv not in CONVS:
            raise ValueError(f"conv must be one of {sorted(CONVS)}, not {conv!r}")
        # "mean": LANDER's weighted-mean conv; "gat": graph attention, the reference's choice for species.
        self.conv = conv
        dims = [2 * feature_dim if node_input == "embedding" else NODE_PROFILE] + [hidden] * num_conv
        self.convs = nn.ModuleList(CONVS[conv](a, b, dropout) for a, b in zip(dims[:-1], dims[1:]))
        # The edge head runs once per edge (10 per photo): its width sets most of the inference time.
        e = self.edge_hidden = edge_hidden
        self.src_mlp = nn.Linear(hidden, e)
        self.dst_mlp = nn.Linear(hidden, e)
        self.edge_mlp = nn.Sequential(nn.Linear(EDGE_FEATURES, 64), nn.PReLU(), nn.Linear(64, e)) \
            if edge_features else None
        # h_i * h_j lets the head compare the two ends in the learned space, which a sum of projections cannot.
        self.pair_mlp = nn.Linear(hidden, e) if pair_product else None
        self.classifier = nn.Sequential(nn.PReLU(e), nn.Linear(e, e), nn.PReLU(e), nn.Linear(e, 2))

    def config(self) -> dict:
        return {"feature_dim": self.feature_dim, "hidden": self.hidden, "num_conv": len(self.convs),
                "dropout": self.convs[0].dropout, "edge_features": self.use_edge_features,
                "pair_product": self.use_pair_product, "node_input": self.node_input,
                "edge_hidden": self.edge_hidden, "conv": self.conv}

    @property
    def uses_embeddings(self) -> bool:
        """Whether it reads the graph's ``[x ‖ c]`` (else only the neighbourhood profiles)."""
        return self.node_input == "embedding"

    def forward(self, g: LevelGraph, tick=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``tick(share)``, if given, hears every ``TICK_SLICES`` slices of the edge head at inference how much of
        it is done (a progress meter, which may stop the work by raising)."""
        h = g.x if self.uses_embeddings else g.profile
        for conv in self.convs:
            h = conv(h, g.edge_index, g.weight)
        weight, bias = self._edge_input_projection()
        n_edges = g.edge_index.shape[1]
        # Training needs the whole graph for backprop; inference runs the edge head in slices, because its
        # (E, 256) activations would take 10 GB for a million photos at k = 10.
        step = n_edges if self.training or torch.is_grad_enabled() else \
            EDGE_CHUNK_CUDA if h.is_cuda else EDGE_CHUNK
        if step >= n_edges:
            logits = self._edge_logits(h, g, slice(0, n_edges), weight, bias) if n_edges else h.new_zeros((0, 2))
        else:
            # Written in place: a list of small slices to concatenate fragmented the heap (at a million photos
            # the process kept 4.6 GB more after the head than with one output tensor, measured).
            logits = h.new_empty((n_edges, 2))
            for i, a in enumerate(range(0, n_edges, step)):
                logits[a:a + step] = self._edge_logits(h, g, slice(a, a + step), weight, bias)
                if tick is not None and i % TICK_SLICES == TICK_SLICES - 1:
                    tick(min(n_edges, a + step) / n_edges)
        return logits, density(logits, g)

    def _edge_input_projection(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's first layer, z = A h_j + B h_i + P (h_i * h_j) + E e_ij, as one matrix over the
        concatenated inputs: one matrix product on 64-wide gathers instead of four 256-wide tensors to add
        (the edge head is memory-bound on the CPU; this is the same function, about twice as fast)."""
        layers = [self.src_mlp, self.dst_mlp]
        if self.pair_mlp is not None:
            layers.append(self.pair_mlp)
        if self.edge_mlp is not None:
            layers.append(self.edge_mlp[2])
        return torch.cat([m.weight for m in layers], dim=1), sum(m.bias for m in layers)

    def _edge_logits(self, h, g: LevelGraph, part: slice, weight, bias) -> torch.Tensor:
        src, dst = g.edge_index[:, part]
        h_src, h_dst = h[src], h[dst]
        inputs = [h_src, h_dst]
        if self.pair_mlp is not None:
            inputs.append(h_src * h_dst)
        if self.edge_mlp is not None:
            inputs.append(self.edge_mlp[1](self.edge_mlp[0](g.edge_attr[part])))
        return self.classifier(torch.addmm(bias, torch.cat(inputs, dim=1), weight.T))


class LanderEnsemble(nn.Module):
    """LANDER models trained from different seeds, their edge probabilities averaged (density follows from the
    average). On unseen people one seed may learn a wrong link that the others do not: averaging three raised
    the held-out pairwise F on every identity split we measured (docs/hilander-ablation.md)."""

    def __init__(self, members: list[Lander]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one model")
        self.members = nn.ModuleList(members)

    @property
    def uses_embeddings(self) -> bool:
        return any(m.uses_embeddings for m in self.members)

    def forward(self, g: LevelGraph, tick=None) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.members)

        def member_tick(i):  # member i's share of the whole
            return None if tick is None else (lambda share: tick((i + share) / n))

        p = torch.stack([torch.softmax(m(g, member_tick(i))[0], dim=-1) for i, m in enumerate(self.members)]
                        ).mean(dim=0)
        logits = torch.log(p.clamp_min(1e-12))  # softmax(log p) == p, so callers treat it like one model
        return logits, density(logits, g)


def density(logits: torch.Tensor, g: LevelGraph) -> torch.Tensor:
    """d_i = mean over i's neighbours j of sim_ij * (p_ij[1] - p_ij[0])."""
    p = torch.softmax(logits, dim=-1)
    return scatter(g.sim * (p[:, 1] - p[:, 0]), g.edge_index[1], dim=0, dim_size=g.num_nodes, reduce="mean")


def true_density(g: LevelGraph, labels: torch.Tensor) -> torch.Tensor:
    """d*_i = mean over neighbours of sim_ij * (+1 same label, -1 different)."""
    src, dst = g.edge_index
    sign = (labels[src] == labels[dst]).float() * 2 - 1
    return scatter(g.sim * sign, dst, dim=0, dim_size=g.num_nodes, reduce="mean")


def lander_loss(logits: torch.Tensor, dens: torch.Tensor, g: LevelGraph, labels: torch.Tensor,
                balance: bool = True, hard_negatives: float = 0.0) -> tuple[torch.Tensor, dict]:
    """Edge cross-entropy on edges towards higher true density, plus density MSE.

    ``balance`` weighs the two classes equally. ``hard_negatives`` = h > 0 also weighs each link between
    different identities by exp(h * (s - mean s)), s its similarity: the look-alike links that a wrong merge is
    made of count more than the many easy ones (docs/hilander-ablation.md, row 27)."""
    src, dst = g.edge_index
    target = (labels[src] == labels[dst]).long()
    d_true = true_density(g, labels)
    mask = d_true[src] > d_true[dst]
    if not mask.any():
        mask = torch.ones_like(mask)
    t = target[mask]
    weight = None
    if balance:
        pos = t.float().mean().clamp(0.05, 0.95)
        weight = torch.stack([0.5 / (1 - pos), 0.5 / pos])
    if hard_negatives:
        each = F.cross_entropy(logits[mask], t, reduction="none")
        per_edge = weight[t] if weight is not None else torch.ones_like(each)
        s = g.sim[mask]
        hard = torch.where(t == 0, torch.exp(hard_negatives * (s - s.mean())), torch.ones_like(s))
        conn = (per_edge * hard * each).sum() / per_edge.sum()  # the class-weighted mean, look-alikes heavier
    else:
        conn = F.cross_entropy(logits[mask], t, weight=weight)
    den = F.mse_loss(dens, d_true)
    return conn + den, {"conn": conn.item(), "density": den.item()}


@contextmanager
def deterministic() -> Iterator[None]:
    """Same seed, same numbers: scatter sums otherwise add in thread order, which changes the last bits."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
