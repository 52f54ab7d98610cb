"""The ``face_swap`` detector: tracked faces, an SBI-trained CNN, a timeline.

Video (and single images, as one-frame videos) -> frames sampled at a few
fps plus keyframes -> faces found and tracked (``faces``) -> aligned colour
crops -> CNN logits -> per frame max over faces -> mean over frames ->
calibrated log10 LR (see ``scoring`` for why that aggregation). Each track
becomes timeline segments; the most suspicious crops get Grad-CAM heatmaps
and all tracks a contact sheet.

Options (``DetectorContext.options``, all strings): ``sample_fps`` (3),
``keyframes`` ("1"), ``min_face_px`` (64), ``max_seconds`` (none),
``heatmaps`` (3), ``weights`` (a bundle path; default the shipped one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.base import DetectorContext, register
from detectors.face_swap import crops as C
from detectors.face_swap import faces as F
from detectors.face_swap.net import BundleError
from detectors.face_swap.scoring import DEFAULT_WEIGHTS, LoadedModel, VideoScore, load_model, score_scan
from verifier.evidence import Artifact, Finding, MediaInfo, MediaKind, Segment

SEGMENT_S = 1.0  # timeline resolution: one segment per track and second


class FaceSwapOptionError(ValueError):
    """A detector option is malformed; the message names it and the expected form."""


@dataclass(frozen=True)
class FaceSwapOptions:
    sample_fps: float = 3.0
    keyframes: bool = True
    min_face_px: int = 64
    max_seconds: float | None = None
    heatmaps: int = 3
    weights: str | None = None

    @classmethod
    def from_strings(cls, opts: dict[str, str]) -> "FaceSwapOptions":
        try:
            return cls(
                sample_fps=float(opts.get("sample_fps", 3.0)),
                keyframes=opts.get("keyframes", "1").lower() not in ("0", "false", "no"),
                min_face_px=int(opts.get("min_face_px", 64)),
                max_seconds=float(opts["max_seconds"]) if opts.get("max_seconds") else None,
                heatmaps=int(opts.get("heatmaps", 3)),
                weights=opts.get("weights"),
            )
        except ValueError as exc:
            raise FaceSwapOptionError(f"bad face_swap option ({exc}); numbers expected for sample_fps, "
                                      "min_face_px, max_seconds, heatmaps") from exc

    def crop_options(self) -> C.CropOptions:
        if self.sample_fps <= 0:
            raise FaceSwapOptionError("sample_fps must be positive")
        return C.CropOptions(sample_fps=self.sample_fps, keyframes=self.keyframes, min_face_px=self.min_face_px,
                             max_seconds=self.max_seconds)


def timeline(vs: VideoScore, lm: LoadedModel, seg_s: float = SEGMENT_S) -> list[Segment]:
    """One segment per track and ``seg_s`` window: mean logit of the track's
    crops in the window, calibrated like a frame."""
    segs: list[Segment] = []
    for tr in vs.tracks:
        bins = np.floor(tr.times / seg_s).astype(int)
        for b in np.unique(bins):
            z = float(tr.logits[bins == b].mean())
            t = tr.times[bins == b]
            segs.append(Segment(start_s=round(float(t.min()), 3), end_s=round(float(max(t.max(), t.min() + 1e-3)), 3),
                                score=round(z, 4), llr=round(float(lm.calibration.llr10(z)), 4),
                                label=f"track {tr.track_id}"))
    return sorted(segs, key=lambda s: (s.start_s, s.label))


def driver_summary(vs: VideoScore, lm: LoadedModel) -> str:
    """Which track and time span drove the score, in words."""
    if not vs.tracks:
        return ""
    best = max(vs.tracks, key=lambda t: float(np.mean(t.logits)))
    order = np.argsort(best.logits)[::-1]
    top = best.times[order[: max(1, len(order) // 3)]]
    peak = float(lm.calibration.llr10(best.logits.max()))
    n_frames = len(vs.frame_times)
    what = "image" if vs.scan.is_image else f"{n_frames} sampled frames"
    return (f"{len(vs.tracks)} face track(s) over {what}; the score is driven by track {best.track_id} "
            f"({float(best.times.min()):.1f}-{float(best.times.max()):.1f} s, "
            f"most suspicious at {', '.join(f'{t:.1f}' for t in sorted({round(float(x), 1) for x in top})[:5])} s, "
            f"peak frame LLR {peak:+.2f}); video LLR {vs.llr:+.2f}")


def write_artifacts(vs: VideoScore, lm: LoadedModel, out_dir: Path, n_heatmaps: int) -> list[Artifact]:
    from detectors.face_swap import explain

    out_dir.mkdir(parents=True, exist_ok=True)
    arts: list[Artifact] = []
    obs = [(float(z), tr.track_id, o) for tr in vs.tracks for z, o in zip(tr.logits, vs.scan.tracks[_idx(vs, tr.track_id)].obs)]
    obs.sort(key=lambda x: -x[0])
    for rank, (z, tid, o) in enumerate(obs[:n_heatmaps]):
        p = out_dir / f"face_swap_gradcam_{rank + 1}.png"
        llr = float(lm.calibration.llr10(z))
        explain.heatmap_png(lm.model, o.crop, p, f"track {tid} t={o.time_s:.2f}s LLR {llr:+.2f}")
        arts.append(Artifact(kind="heatmap", media_type="image/png", path=str(p),
                             description=f"Grad-CAM of the face-swap CNN on track {tid} at {o.time_s:.2f} s "
                                         f"(rank {rank + 1} by score, frame LLR {llr:+.2f}): red = regions that "
                                         "raised the 'blended face' score"))
    rows = []
    for tr, st in zip(vs.tracks, vs.scan.tracks):
        items = [(o.crop, f"{o.time_s:.1f}s {float(lm.calibration.llr10(z)):+.1f}") for o, z in zip(st.obs, tr.logits)]
        label = (f"track {tr.track_id}\n{float(tr.times.min()):.1f}-{float(tr.times.max()):.1f} s\n"
                 f"{len(st.obs)} crops\nmean LLR {float(lm.calibration.llr10(tr.logits.mean())):+.2f}")
        rows.append((label, items))
    p = out_dir / "face_swap_contact_sheet.png"
    explain.contact_sheet_png(rows, p)
    arts.append(Artifact(kind="contact_sheet", media_type="image/png", path=str(p),
                         description="faces tracked by the face-swap detector: one row per track, crops with "
                                     "time and frame LLR"))
    return arts


def _idx(vs: VideoScore, track_id: int) -> int:
    return next(i for i, t in enumerate(vs.scan.tracks) if t.track_id == track_id)


class FaceSwapDetector:
    name = "face_swap"
    version = "0.1.0"
    modality = "video"
    examines = "face"
    needs = "an image or a video stream"

    def __init__(self, weights: Path | None = None):
        self._weights = Path(weights) if weights else DEFAULT_WEIGHTS
        self._sha: str | None = None

    @property
    def weights_sha256(self) -> str | None:
        if self._sha is None and self._weights.is_file():
            from detectors.face_swap.net import file_sha256

            self._sha = file_sha256(self._weights)
        return self._sha

    def applies_to(self, media: MediaInfo) -> bool:
        if media.kind == MediaKind.image:
            return True
        return media.kind == MediaKind.video and media.has_video

    def _finding(self, applicable: bool, reason: str, **kw) -> Finding:
        return Finding(detector=self.name, version=self.version, modality=self.modality,
                       weights_sha256=self.weights_sha256, applicable=applicable, reason=reason, **kw)

    def analyze(self, ctx: DetectorContext) -> Finding:
        try:
            opts = FaceSwapOptions.from_strings(ctx.options)
            crop_opts = opts.crop_options()
        except FaceSwapOptionError as exc:
            return self._finding(False, str(exc))
        weights = Path(opts.weights) if opts.weights else self._weights
        try:
            lm = load_model(str(weights))
        except BundleError as exc:
            return self._finding(False, f"model unavailable: {exc}")
        self._sha = lm.sha256
        try:
            scan = self._scan(ctx, opts, crop_opts)
        except (F.FaceScanError, C.CropError) as exc:
            return self._finding(False, f"could not read frames: {exc}")
        if scan.reason is not None:
            return self._finding(False, scan.reason)
        vs = score_scan(scan, lm)
        arts: list[Artifact] = []
        if ctx.artifact_dir is not None:
            arts = write_artifacts(vs, lm, Path(ctx.artifact_dir), opts.heatmaps)
        return self._finding(True, driver_summary(vs, lm) + F.time_guard_note(scan.stopped_at_s), raw_score=round(float(vs.raw), 6),
                             llr=round(float(vs.llr), 4), segments=timeline(vs, lm), artifacts=arts,
                             validation=str(lm.record.get("validation", "")))


    @staticmethod
    def _scan(ctx: DetectorContext, opts: FaceSwapOptions, crop_opts: C.CropOptions) -> C.CropScan:
        """Stills get their own one-frame scan. Videos with the default
        sampling read the face scan: the one shared with the lip-sync and
        identity checks when they run too (one decode for all), else a
        lighter one that skips the frames between samples. Other sampling
        options need a scan of their own."""
        if ctx.media.kind == MediaKind.image:
            return C.scan_crops(ctx.path, crop_opts, as_image=True)
        shared = F.SHARED_VIDEO_SCAN if ctx.run_detectors & F.SHARED_SCAN_DETECTORS else F.FACE_SWAP_SCAN
        if (opts.sample_fps, opts.keyframes, opts.max_seconds) == (shared.color_crop_fps, shared.color_keyframes, None):
            scan = F.scan_faces_cached(ctx.path, shared)
            return C.from_face_scan(scan, opts.min_face_px)
        return C.scan_crops(ctx.path, crop_opts, as_image=False)


@register("face_swap")
def _factory() -> FaceSwapDetector:
    return FaceSwapDetector()
