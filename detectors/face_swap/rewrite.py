"""Re-encode a clip with some of its frames left out, for the frame-rate measurements.

Kept frames keep their own times, as in a phone's low-light stretch, a call
recording that keeps only the frames that arrived, or a webcam at half rate.
Video is H.264 CRF 18 (close to the source), audio (if any) mono AAC at its own rate.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av


def mux(out, stream, frame=None) -> None:
    """Encode ``frame`` on ``stream`` (None: flush the encoder) and write the packets to ``out``."""
    for packet in stream.encode(frame):
        out.mux(packet)


def rewrite_video(src: Path, dst: Path, keep: Callable[[int, int], bool], rate_divisor: int = 1) -> Path:
    """``src`` with frame i kept when ``keep(i, total)``; the stream's nominal rate is divided by ``rate_divisor``."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vs = inp.streams.video[0]
        total = vs.frames or _count_frames(src)
        ov = out.add_stream("libx264", rate=Fraction(vs.average_rate) / rate_divisor)
        ov.width, ov.height, ov.pix_fmt = vs.codec_context.width, vs.codec_context.height, "yuv420p"
        ov.codec_context.time_base = Fraction(1, 90000)
        ov.options = {"preset": "veryfast", "crf": "18"}
        a_in = inp.streams.audio[0] if inp.streams.audio else None
        if a_in is not None:
            oa = out.add_stream("aac", rate=a_in.codec_context.sample_rate)
            oa.layout = "mono"
        for i, fr in enumerate(inp.decode(vs)):
            if not keep(i, total):
                continue
            vf = av.VideoFrame.from_ndarray(fr.to_ndarray(format="rgb24"), format="rgb24")
            vf.pts, vf.time_base = int(fr.pts * fr.time_base * 90000), Fraction(1, 90000)
            mux(out, ov, vf)
        mux(out, ov)
        if a_in is None:
            return dst
        with av.open(str(src)) as ain:
            res = av.AudioResampler(format="fltp", layout="mono", rate=a_in.codec_context.sample_rate)
            for fr in ain.decode(audio=0):
                for r in res.resample(fr):
                    r.pts = None
                    mux(out, oa, r)
        mux(out, oa)
    return dst


def _count_frames(src: Path) -> int:
    with av.open(str(src)) as c:
        return sum(1 for _ in c.decode(video=0))


def write_half_rate(src: Path, dst: Path) -> Path:
    """Every other frame: a 25 fps clip as a 12.5 fps webcam would have recorded it.
    Written once: an existing ``dst`` is reused (the evaluations rerun over the same copies)."""
    if not dst.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        rewrite_video(src, dst, lambda i, total: i % 2 == 0, rate_divisor=2)
    return dst
