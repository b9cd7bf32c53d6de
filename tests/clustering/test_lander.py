import os
import numpy as np
import pytest
import torch

from photo_grouper.clustering.graph import EDGE_FEATURES, NODE_PROFILE, build_level_graph, edge_features
from photo_grouper.clustering.knn import exact_knn, l2_normalise
from photo_grouper.clustering.lander import Lander, LanderEnsemble, WeightedMeanConv, density, lander_loss, true_density


def _blobs(n_clusters=8, per=12, dim=16, spread=0.35, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim))
    x = np.repeat(centres, per, axis=0) + spread * rng.standard_normal((n_clusters * per, dim))
    return l2_normalise(x.astype(np.float32)), np.repeat(np.arange(n_clusters), per)


def test_level_graph_shapes_and_weights():
    x, _ = _blobs()
    g, knn = build_level_graph(x, x, 5)
    n = x.shape[0]
    assert g.edge_index.shape == (2, n * 5) and g.x.shape == (n, 32)
    assert g.edge_attr.shape == (n * 5, EDGE_FEATURES) and g.profile.shape == (n, NODE_PROFILE)
    # Weights of the edges into each node sum to one; edges point from neighbour to node.
    sums = torch.zeros(n).index_add_(0, g.edge_index[1], g.weight)
    torch.testing.assert_close(sums, torch.ones(n))
    assert torch.equal(g.edge_index[0].view(n, 5), torch.from_numpy(knn.indices))


def test_level_graph_reports_its_steps_and_stops_on_cancel():
    import threading

    from photo_grouper.progress import Cancelled, Meter

    x, _ = _blobs()
    heard = []
    g, _ = build_level_graph(x, x, 5, meter=Meter(lambda done, total: heard.append(done)))
    plain, _ = build_level_graph(x, x, 5)
    # After the block of edges (mutual and shared neighbours; one here), after the neighbourhood features, after
    # the centre features, at the end.
    assert heard == [405, 450, 750, 1000]
    assert torch.equal(g.edge_attr, plain.edge_attr) and torch.equal(g.profile, plain.profile)
    flag = threading.Event()
    flag.set()
    with pytest.raises(Cancelled):
        build_level_graph(x, x, 5, meter=Meter(cancel=flag))


def test_rowdot_in_blocks_gives_each_links_product(monkeypatch):
    """The row products of the links (centre features, the join floor's group similarity) are gathered a block
    at a time; the result does not depend on the block."""
    from photo_grouper.clustering import graph

    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((50, 16)).astype(np.float32), rng.standard_normal((40, 16)).astype(np.float32)
    rows, cols = rng.integers(0, 50, 333), rng.integers(0, 40, 333)
    by_hand = np.array([a[r] @ b[c] for r, c in zip(rows, cols)], np.float32)
    whole = graph.rowdot(a, b, rows, cols)
    np.testing.assert_allclose(whole, by_hand, rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(graph, "ROWDOT_NUMBERS", 16 * 7)  # blocks of 7 links: the last one short
    assert np.array_equal(graph.rowdot(a, b, rows, cols), whole)


def test_edge_features_in_blocks_report_each_block_and_give_the_same_features(monkeypatch):
    from photo_grouper.clustering import graph
    from photo_grouper.progress import Meter

    x, _ = _blobs()
    g = exact_knn(x, 5)
    whole = edge_features(g)
    heard = []
    monkeypatch.setattr(graph, "PAIR_BLOCK_NUMBERS", 25 * 100)  # 100 of the 480 edges a block
    assert np.array_equal(edge_features(g, Meter(lambda done, total: heard.append(done))), whole)
    assert heard == [188, 375, 562, 750, 900, 1000]  # five blocks over 0.9 of it, then the rest
    mutual = np.array([i in g.indices[j] for i, j in zip(np.repeat(np.arange(len(x)), 5), g.indices.ravel())])
    assert np.array_equal(whole[:, 2], mutual.astype(np.float32))


def test_first_level_shortcut_gives_the_general_features():
    # On the first level the features are the centres (the same array), and the three centre products are
    # computed once; equal arrays that are not the same object take the general path: both must agree exactly.
    x, _ = _blobs()
    shortcut, _ = build_level_graph(x, x, 5)
    general, _ = build_level_graph(x, x.copy(), 5)
    assert torch.equal(shortcut.edge_attr, general.edge_attr)
    # and above level 0 the three differ, each in its own column
    rng = np.random.default_rng(1)
    centres = l2_normalise(x + 0.3 * rng.standard_normal(x.shape).astype(np.float32))
    upper, _ = build_level_graph(x, centres, 5)
    centre_cols = upper.edge_attr[:, -5:-2]
    assert not torch.equal(centre_cols[:, 0], centre_cols[:, 1])
    assert not torch.equal(centre_cols[:, 1], centre_cols[:, 2])


def test_edge_features_mutual_and_shared_by_hand():
    # Four points on a line: 0 and 1 close, 2 and 3 close.
    x = l2_normalise(np.array([[1, 0.0], [1, 0.1], [0.1, 1], [0, 1]], np.float32))
    knn = exact_knn(x, 2)
    feats = edge_features(knn)
    assert feats.shape == (8, 7)
    # Node 0's nearest is 1, and 0 is 1's nearest: mutual.
    assert knn.indices[0, 0] == 1 and feats[0, 2] == 1.0
    # Shared neighbours of 0 and 1: N(0) = {1, 2}, N(1) = {0, 2} share only 2.
    assert set(knn.indices[0]) == {1, 2} and set(knn.indices[1]) == {0, 2}
    assert feats[0, 3] == pytest.approx(0.5)


def test_conv_shapes_and_repr():
    conv = WeightedMeanConv(6, 4)
    x = torch.randn(5, 6)
    edge_index = torch.tensor([[1, 2, 0, 4], [0, 0, 1, 3]])
    out = conv(x, edge_index, torch.tensor([0.5, 0.5, 1.0, 1.0]))
    assert out.shape == (5, 4) and (out >= 0).all()
    assert repr(conv) == "WeightedMeanConv(6, 4)"
    # A node with no neighbours aggregates zeros.
    expected = torch.relu(conv.lin(torch.cat([x[2], torch.zeros(6)])))
    torch.testing.assert_close(out[2], expected)


@pytest.mark.parametrize("node_input,conv", [("embedding", "mean"), ("profile", "mean"), ("profile", "gat")])
def test_lander_shapes_density_and_determinism(node_input, conv):
    x, y = _blobs()
    g, _ = build_level_graph(x, x, 6)

    def run():
        torch.manual_seed(7)
        model = Lander(16, hidden=32, node_input=node_input, conv=conv).eval()
        with torch.no_grad():
            return model(g)

    logits, dens = run()
    assert logits.shape == (g.edge_index.shape[1], 2) and dens.shape == (g.num_nodes,)
    torch.testing.assert_close(dens, density(logits, g))
    assert (dens.abs() <= 1 + 1e-6).all()
    logits2, dens2 = run()
    assert torch.equal(logits, logits2) and torch.equal(dens, dens2)
    loss, parts = lander_loss(logits, dens, g, torch.from_numpy(y))
    assert loss.item() > 0 and set(parts) == {"conn", "density"}


def test_attention_conv_weighs_a_node_and_its_neighbours_and_is_kept_with_the_weights(tmp_path):
    """The reference's species layer: a node's output is ReLU of an attention-weighted mean over itself and its
    neighbours (not the similarity weights); the choice is part of the model's config and survives a save."""
    from photo_grouper.clustering.lander import AttentionConv
    from photo_grouper.clustering.weights import load_weights, save_weights

    torch.manual_seed(0)
    conv = AttentionConv(6, 4)
    x = torch.randn(5, 6)
    edge_index = torch.tensor([[1, 2, 0, 4], [0, 0, 1, 3]])
    out = conv(x, edge_index, torch.tensor([0.5, 0.5, 1.0, 1.0]))
    assert out.shape == (5, 4) and (out >= 0).all()
    # Node 2 has no neighbours: attention over itself alone.
    torch.testing.assert_close(out[2], torch.relu(conv.gat.lin(x[2]) + conv.gat.bias))
    # The weights on an edge do not matter to it (the attention does).
    torch.testing.assert_close(out, conv(x, edge_index, torch.ones(4)))
    with pytest.raises(ValueError, match="conv must be one of"):
        Lander(16, conv="sage")
    model = Lander(16, hidden=8, node_input="profile", conv="gat").eval()
    save_weights(model, tmp_path / "w.pt", {})
    loaded, _ = load_weights(tmp_path / "w.pt")
    assert isinstance(loaded.convs[0], AttentionConv) and loaded.config() == model.config()
    x, _ = _blobs()
    g, _ = build_level_graph(x, x, 6)
    with torch.no_grad():
        assert torch.equal(loaded(g)[0], model(g)[0])


def test_true_density_by_hand():
    x, y = _blobs(2, 5, 8, spread=0.05)
    g, _ = build_level_graph(x, x, 4)
    d = true_density(g, torch.from_numpy(y))
    # Tight, well separated blobs: every neighbour within the blob, so d*_i = mean similarity.
    expected = torch.zeros(g.num_nodes).index_add_(0, g.edge_index[1], g.sim) / 4
    torch.testing.assert_close(d, expected)


def test_lander_runs_on_cuda_when_present():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine (CI has none); the device tool runs this check")
    x, _ = _blobs()
    g, _ = build_level_graph(x, x, 6)
    model = Lander(16, hidden=32).eval()
    with torch.no_grad():
        cpu = model(g)[0]
        gpu = model.cuda()(g.to("cuda"))[0].cpu()
    torch.testing.assert_close(cpu, gpu, atol=1e-4, rtol=1e-4)


def test_inference_in_edge_slices_matches_whole_graph(monkeypatch):
    """Inference runs the edge head in slices to bound memory at a million photos; the result must not change."""
    import photo_grouper.clustering.lander as lander_module

    x, _ = _blobs()
    g, _ = build_level_graph(x, x, 6)
    torch.manual_seed(3)
    model = Lander(16, hidden=32, node_input="profile").eval()
    with torch.inference_mode():
        whole_logits, whole_dens = model(g)
        monkeypatch.setattr(lander_module, "EDGE_CHUNK", 7)  # slices that do not divide E
        sliced_logits, sliced_dens = model(g)
    torch.testing.assert_close(sliced_logits, whole_logits)
    torch.testing.assert_close(sliced_dens, whole_dens)


def test_inference_ticks_between_slices_of_the_edge_head_and_the_result_is_the_same(monkeypatch):
    """Progress (and a cancel, which raises from the tick) is heard while the edge head runs at a million photos."""
    import photo_grouper.clustering.lander as lander_module

    x, _ = _blobs()
    g, _ = build_level_graph(x, x, 6)
    torch.manual_seed(3)
    members = [Lander(16, hidden=32, node_input="profile").eval() for _ in range(2)]
    ensemble = LanderEnsemble(members).eval()
    with torch.inference_mode():
        plain = ensemble(g)
        monkeypatch.setattr(lander_module, "EDGE_CHUNK", 7)
        monkeypatch.setattr(lander_module, "TICK_SLICES", 4)  # a tick every 28 edges
        heard = []
        ticked = ensemble(g, heard.append)
    edges = g.edge_index.shape[1]
    per_member = [min(1.0, 28 * (i + 1) / edges) for i in range(edges // 28)]
    assert heard == pytest.approx([s / 2 for s in per_member] + [(1 + s) / 2 for s in per_member])
    torch.testing.assert_close(ticked[0], plain[0])
    torch.testing.assert_close(ticked[1], plain[1])


def test_hard_negatives_weigh_look_alike_links_more():
    x, y = _blobs(4, 8, 16, spread=0.9, seed=3)  # wide blobs: kNN edges cross identities
    g, _ = build_level_graph(x, x, 6)
    labels = torch.from_numpy(y)
    src, dst = g.edge_index
    d_true = true_density(g, labels)
    used = d_true[src] > d_true[dst]
    negative = used & (labels[src] != labels[dst])
    assert negative.sum() >= 2
    idx = torch.nonzero(negative).ravel()
    hardest, easiest = idx[g.sim[idx].argmax()], idx[g.sim[idx].argmin()]
    dens = torch.zeros(g.num_nodes)

    def loss_when_wrong(edge, h):
        logits = torch.zeros(g.edge_index.shape[1], 2)
        logits[edge, 1] = 4.0  # says "same person" for a link between two people
        return lander_loss(logits, dens, g, labels, hard_negatives=h)[1]["conn"]

    # h = 0: both mistakes cost the same; h > 0: the look-alike mistake costs more than the easy one.
    assert loss_when_wrong(hardest, 0.0) == pytest.approx(loss_when_wrong(easiest, 0.0))
    assert loss_when_wrong(hardest, 5.0) > loss_when_wrong(easiest, 5.0) + 1e-3


@pytest.mark.parametrize("conv", ["WeightedMeanConv", "AttentionConv"])
def test_building_a_model_leaves_no_generated_source_in_the_temporary_folder(tmp_path, conv):
    """PyG writes the propagate() it generates to a temporary file per process; the model removes it once loaded."""
    import subprocess
    import sys

    code = (f"from photo_grouper.clustering.lander import {conv}; import torch\n"
            f"conv = {conv}(3, 4)\n"
            "out = conv(torch.ones(2, 3), torch.tensor([[0, 1], [1, 0]]), torch.ones(2))\n"
            "print(tuple(out.shape))\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 4)"  # the generated propagate() ran after its file was removed
    assert list(tmp_path.iterdir()) == []
