"""Tiny corpus -> train -> eval round trip through the CLI commands.

Faces come from scikit-image's astronaut (and the shared media's GFPGAN
crops when present), laid out as a ``folder`` data set; a few optimiser
steps check the plumbing (manifest, splits, SBI training, calibration,
bundle, evaluation report and ROC plot), not detection quality.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from tests.faces_swap.helpers import MEDIA, astronaut
from verifier.cli_faces import faces_corpus_cmd, faces_eval_cmd, faces_train_cmd


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("corpus")(faces_corpus_cmd)
    app.command("train")(faces_train_cmd)
    app.command("eval")(faces_eval_cmd)
    return app


def _variants(img: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        v = img.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20)
        v = np.roll(v, int(rng.integers(-20, 20)), axis=1)
        out.append(v.clip(0, 255).astype(np.uint8))
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from detectors.face_swap.crops import crops_from_image_array
    from detectors.face_swap.faces import FaceDetector, predict_landmarks
    from detectors.face_swap.manipulate import swap_frame, write_h264

    root = tmp_path_factory.mktemp("faces_ds")
    base = astronaut()
    # Four stand-in identities from one face, so the splits have enough groups without the shared media.
    faces = {"astro_a": base, "astro_b": base[:, ::-1].copy(), "astro_c": np.ascontiguousarray(base[::1, :, ::-1]),
             "astro_d": np.ascontiguousarray(base[:, ::-1, ::-1])}
    gfp = MEDIA / "image/gfpgan/inputs/cropped_faces/Adele_crop.png"
    if gfp.is_file():
        faces["adele"] = np.asarray(Image.open(gfp).convert("RGB"))
    for ident, img in faces.items():
        for i, v in enumerate(_variants(img, 3, hash(ident) % 1000)):
            p = root / "real" / ident / f"{i}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(v).save(p)
    # a short real "video" and an alpha-blended swap of it (colour-shifted face)
    frames = [np.roll(base, k, axis=1) for k in range(0, 12, 2)]
    write_h264(frames, root / "real" / "astro_a" / "clip.mp4", fps=6, crf=18)
    det = FaceDetector()
    box = max(det.detect(base), key=lambda b: b.size)
    lm = predict_landmarks(base, box)
    donor = (base.astype(np.int16) + np.array([30, -20, 10])).clip(0, 255).astype(np.uint8)
    fake = swap_frame(base, lm, donor, lm, "alpha")
    p = root / "fake" / "alpha" / "astro_a" / "0.png"
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(fake).save(p)
    assert crops_from_image_array(base)  # the astronaut's face is found
    return root


def test_corpus_train_eval(dataset: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    app = _app()
    corpus = tmp_path / "corpus"
    r = runner.invoke(app, ["corpus", str(corpus), "--dataset", str(dataset), "--format", "folder",
                            "--no-package-images", "--fps", "3"])
    assert r.exit_code == 0, r.output
    counts = json.loads(r.stdout.strip().splitlines()[-1])
    assert counts["train"] > 0 and counts["calibration"] > 0
    rows = [json.loads(x) for x in (corpus / "manifest.jsonl").read_text().splitlines()]
    by_split: dict[str, set[str]] = {}
    for row in rows:
        by_split.setdefault(row["split"], set()).add(row["group"])
        assert (corpus / row["crop"]).is_file() and len(row["landmarks"]) == 5
    splits = list(by_split.values())
    assert all(not (a & b) for i, a in enumerate(splits) for b in splits[i + 1:]), "an identity is in two splits"

    model = tmp_path / "m.pt"
    r = runner.invoke(app, ["train", "--corpus", str(corpus), "--out", str(model), "--steps", "4",
                            "--eval-every", "2", "--batch-size", "8"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["sha256"] and model.is_file()
    # the cross-identity blends need two training identities; either way the command must not crash
    r = runner.invoke(app, ["train", "--corpus", str(corpus), "--out", str(tmp_path / "x.pt"), "--steps", "2",
                            "--eval-every", "2", "--batch-size", "8", "--cross-blend", "0.5"])
    train_groups = {row["group"] for row in rows if row["split"] == "train"}
    if len(train_groups) >= 2:
        assert r.exit_code == 0, r.output
    else:
        assert r.exit_code == 1 and "at least two identities" in r.output

    out = tmp_path / "eval"
    r = runner.invoke(app, ["eval", "--dataset", str(dataset), "--format", "folder", "--weights", str(model),
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["video"]["n_manipulated"] >= 1 and 0 <= rep["video"]["auc"] <= 1
    assert "alpha" in rep["per_manipulation"] and (out / "roc.png").is_file()


def test_train_without_corpus_is_a_clear_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(_app(), ["train", "--corpus", str(tmp_path), "--steps", "2"])
    assert r.exit_code == 1 and "verifier corpus faces" in r.output
