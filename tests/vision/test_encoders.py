"""Real detection and embedding on real labelled photos from ../shared/data."""

from itertools import combinations

import numpy as np
import pytest
import torch

from photo_grouper.media import ImageError
from photo_grouper.vision import EncoderSpec, make_encoder
from photo_grouper.vision.efficientnet_lite import EfficientNetLite0
from photo_grouper.vision.species import shipped_weights


def _separation(vectors: dict[str, list[np.ndarray]]) -> tuple[float, float]:
    """Mean cosine distance within labels and between labels."""
    def dist(a, b):
        return 1 - float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    within = [dist(a, b) for vs in vectors.values() for a, b in combinations(vs, 2)]
    between = [dist(a, b) for (la, va), (lb, vb) in combinations(vectors.items(), 2) for a in va for b in vb]
    return float(np.mean(within)), float(np.mean(between))


@pytest.fixture(scope="module")
def face_encoder():
    return make_encoder(EncoderSpec.of("faces"))


def test_faces_are_found_boxed_and_embedded(face_encoder, faces_data):
    people = sorted(p.name for p in faces_data.iterdir())[:4]
    vectors, found, total = {}, 0, 0
    for person in people:
        for photo in sorted((faces_data / person).iterdir())[:5]:
            total += 1
            faces = face_encoder.analyse_one(photo)
            if not faces:
                continue
            found += 1
            # Celebrity portraits: take the most confident face.
            best = max(faces, key=lambda f: f.score)
            x, y, w, h = best.box
            assert 0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-6 and 0 < h <= 1 - y + 1e-6
            assert best.vector.shape == (128,) and best.vector.dtype == np.float32
            vectors.setdefault(person, []).append(best.vector)
    assert found >= 0.8 * total
    within, between = _separation(vectors)
    assert within < 0.75 * between, (within, between)


def test_same_identity_nearest_for_most_faces(face_encoder, faces_data):
    labels, vecs = [], []
    for person in sorted(p.name for p in faces_data.iterdir())[10:16]:
        for photo in sorted((faces_data / person).iterdir())[:4]:
            faces = face_encoder.analyse_one(photo)
            if faces:
                labels.append(person)
                vecs.append(max(faces, key=lambda f: f.score).vector)
    v = np.stack(vecs)
    d = np.linalg.norm(v[:, None] - v[None], axis=2)
    np.fill_diagonal(d, np.inf)
    hits = np.mean([labels[i] == labels[j] for i, j in enumerate(d.argmin(1))])
    assert hits >= 0.8, hits


def test_face_encoder_reports_unreadable_photos(face_encoder, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 broken")
    [outcome] = face_encoder.analyse([bad])
    assert outcome.error and not outcome.found
    with pytest.raises(ImageError):
        face_encoder.analyse_one(bad)


def test_efficientnet_lite0_weights_load_strictly():
    net = EfficientNetLite0()
    missing, unexpected = net.load_state_dict(torch.load(shipped_weights(), weights_only=True), strict=True)
    assert not missing and not unexpected
    net.eval()
    with torch.inference_mode():
        assert net.features(torch.zeros(2, 3, 224, 224)).shape == (2, 1280)
        assert net(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_species_embeddings_group_breeds(pets_data):
    encoder = make_encoder(EncoderSpec.of("species", device="cpu"))
    breeds = sorted(p.name for p in pets_data.iterdir())[:6]
    paths, labels = [], []
    for breed in breeds:
        for photo in sorted((pets_data / breed).iterdir())[:5]:
            paths.append(photo)
            labels.append(breed)
    outcomes = encoder.analyse(paths)
    assert all(o.error is None and len(o.found) == 1 for o in outcomes)
    assert all(o.found[0].box == (0.0, 0.0, 1.0, 1.0) for o in outcomes)
    vectors = {}
    for label, o in zip(labels, outcomes):
        assert o.found[0].vector.shape == (1280,)
        vectors.setdefault(label, []).append(o.found[0].vector)
    within, between = _separation(vectors)
    assert within < between, (within, between)
    # Batched and one-by-one embedding agree.
    single = encoder.analyse_one(paths[0])[0].vector
    np.testing.assert_allclose(single, outcomes[0].found[0].vector, rtol=1e-3, atol=1e-3)


def test_species_are_embedded_on_cuda_as_on_the_cpu(pets_data):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine (CI has none); the device tool runs this check")
    paths = sorted((pets_data / "pug").iterdir())[:4]
    cpu = make_encoder(EncoderSpec.of("species", device="cpu")).analyse(paths)
    gpu = make_encoder(EncoderSpec.of("species", device="cuda")).analyse(paths)
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a.found[0].vector, b.found[0].vector, rtol=1e-3, atol=1e-3)


def test_a_gpu_out_of_memory_embeds_species_on_the_cpu_and_says_so(pets_data, monkeypatch):
    """A small card, or one another program holds, runs out of memory: the photos are embedded on the CPU from
    then on, the same vectors, and the encoder says why. Run here without a GPU: the encoder is put on torch's
    meta device (shapes, no numbers), where embedding runs out as a full card would."""
    from photo_grouper.vision.species import EfficientNetSpeciesEncoder

    embed, tried = EfficientNetSpeciesEncoder._embed, []

    def on_a_full_card(self, batch):
        tried.append(self.device.type)
        if self.device.type != "cpu":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
        return embed(self, batch)

    monkeypatch.setattr(EfficientNetSpeciesEncoder, "_embed", on_a_full_card)
    paths = sorted((pets_data / "pug").iterdir())[:3]
    encoder = make_encoder(EncoderSpec.of("species", device="meta", batch_size=2))
    assert next(encoder.network.parameters()).device.type == "meta" and encoder.fallback is None
    outcomes = encoder.analyse(paths)
    assert tried == ["meta", "cpu", "cpu"]  # the first batch again on the CPU, then the rest there
    assert encoder.fallback == "the GPU ran out of memory: embedded on the CPU instead"
    assert next(encoder.network.parameters()).device.type == "cpu"
    cpu = make_encoder(EncoderSpec.of("species", device="cpu")).analyse(paths)
    for moved, plain in zip(outcomes, cpu):
        np.testing.assert_allclose(moved.found[0].vector, plain.found[0].vector, rtol=1e-5, atol=1e-5)
    # Another error, or one on the CPU, is the caller's.
    for device, error in [("meta", RuntimeError("something else")),
                          ("cpu", torch.OutOfMemoryError("CUDA out of memory."))]:
        def failing(self, batch, error=error):
            raise error
        monkeypatch.setattr(EfficientNetSpeciesEncoder, "_embed", failing)
        other = make_encoder(EncoderSpec.of("species", device=device))
        with pytest.raises(RuntimeError, match=str(error)):
            other.analyse(paths[:1])
        assert other.fallback is None


def test_unknown_mode_and_detector_are_refused():
    with pytest.raises(ValueError, match="unknown mode"):
        make_encoder(EncoderSpec.of("plants"))
    with pytest.raises(ValueError, match="unknown face detector"):
        make_encoder(EncoderSpec.of("faces", detector="magic"))


def test_cnn_face_detector_finds_the_face(faces_data):
    encoder = make_encoder(EncoderSpec.of("faces", detector="cnn", detect_side=400, upsample=0))
    photo = sorted((faces_data / "celeb-07212").iterdir())[1]
    faces = encoder.analyse_one(photo)
    assert len(faces) == 1 and faces[0].vector.shape == (128,)
    assert "cnn" in encoder.pipeline


def test_species_encoder_takes_a_users_weights_file(tmp_path, pets_data):
    state = torch.load(shipped_weights(), weights_only=True)
    state["_fc.bias"] = state["_fc.bias"] + 1  # a "fine-tuned" copy: same network, other numbers
    path = tmp_path / "mine.pth"
    torch.save(state, path)
    mine = make_encoder(EncoderSpec.of("species", weights=str(path), device="cpu"))
    shipped = make_encoder(EncoderSpec.of("species", device="cpu"))
    assert mine.model_version.startswith("user-") and shipped.model_version == "imagenet-center"
    assert mine.pipeline != shipped.pipeline  # other weights: photos are embedded again
    photo = next((pets_data / "pug").iterdir())
    # Only the classifier changed, so the pooled features agree.
    np.testing.assert_allclose(mine.analyse_one(photo)[0].vector, shipped.analyse_one(photo)[0].vector,
                               rtol=1e-4, atol=1e-4)


def test_the_species_photo_is_framed_as_imagenet_evaluates_it(tmp_path):
    """The shorter side to 256, the middle 224 square: a wide photo loses its sides, nothing is stretched."""
    from PIL import Image

    wide = np.zeros((300, 600, 3), np.uint8)
    wide[:, 250:350] = 255  # a white band in the middle, black elsewhere
    path = tmp_path / "wide.png"
    Image.fromarray(wide).save(path)
    centre = make_encoder(EncoderSpec.of("species", device="cpu"))._pixels(path)
    squash = make_encoder(EncoderSpec.of("species", device="cpu", framing="squash"))._pixels(path)
    assert centre.shape == squash.shape == (224, 224, 3)
    # Scaled by 256/300 the band is 85 px wide in a 512 px row; the middle 224 keeps it whole, unstretched.
    assert abs((centre[112, :, 0] > 128).sum() - 85) <= 2
    assert abs((squash[112, :, 0] > 128).sum() - 37) <= 2  # squashed to 224 of 600: 37 px
    with pytest.raises(ValueError, match="framing must be one of"):
        make_encoder(EncoderSpec.of("species", framing="stretch"))
