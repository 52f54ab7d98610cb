"""Fuzz `verify` with mutated media: every case must end in a verdict or a
typed input error, never an internal error, a failed detector, a crash or a hang.

    python -m tests.fuzz.run --out /tmp/fuzz [--minutes 30] [--seed 0] [--case-timeout 120]
    python -m tests.fuzz.run --out /tmp/fuzz --replay CASE_ID ...   # re-run recorded cases
    python -m tests.fuzz.run --out /tmp/fuzz2 --media-seeds-only     # faces and speech only
    python -m tests.fuzz.run --out /tmp/sweep --sweep ../shared/media  # real files, unchanged

Seeds are the generated fixtures (every format, signed and unsigned, so C2PA
parsing is reached) plus, when the shared media are present, real files with
faces and speech (so the detectors get past their applicability checks and
meet corrupt frames and audio mid-stream). Each case runs in a worker process
with every detector selected (the claim checks too, against a face and a
voice enrolled from the shared media), the HTML report rendered, and the
file offered for enrolment as a face photo and as a voice recording; the parent kills a
worker that overruns the case timeout (a hang) and notes a worker that dies
(a crash in native code). Cases are a pure function of (seed file, mutator,
case seed), so `--replay` rebuilds a case exactly; a failing case's bytes are
also kept under OUT/failures/.

Output: OUT/results.jsonl (one line per case) and a summary table on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tests.fuzz.mutators import MUTATORS, splice
from verifier.shared_dir import shared_dir

ALL_DETECTORS = ("face_swap", "face_motion", "av_sync", "face_identity_consistency", "voice_clone")
# The face and voice enrolled for the claim checks; seeds too.
REFERENCE_FACE = "media/image/dlib/examples/johns/John_Savage/000296_01099007.jpg"
REFERENCE_VOICE = "media/audio/whisper/tests/jfk.flac"
SHARED_SEEDS = (
    "media/video/liveportrait/assets/examples/driving/d20.mp4",
    "media/video/sadtalker/examples/ref_video/WDA_KatieHill_000.mp4",
    REFERENCE_VOICE,
    "media/audio/sadtalker/examples/driven_audio/RD_Radio31_000.wav",
    REFERENCE_FACE,
)
MAX_SEED_BYTES = 8_000_000


@dataclass(frozen=True)
class Case:
    case_id: str
    seed_file: str
    mutator: str
    case_seed: int
    other_file: str | None = None


@dataclass
class Outcome:
    case_id: str
    seed_file: str
    mutator: str
    kind: str  # verdict | input_error | internal_error | detector_failed | crash | hang
    detail: str
    seconds: float
    size: int


def collect_seeds(work: Path, use_shared: bool = True) -> list[Path]:
    from fixtures.make_fixtures import make_all

    made = make_all(work / "fixtures", wait_for_expiry=False)
    seeds = [p for variants in made.values() for name, p in variants.items()
             if name in ("plain", "signed", "ai")]
    if not use_shared:
        return seeds
    root = shared_dir()
    seeds += [root / rel for rel in SHARED_SEEDS if (root / rel).is_file()]
    conformance = root / "conformance" / "c2pa"
    if conformance.is_dir():
        seeds += sorted(p for p in conformance.rglob("*") if p.is_file() and p.suffix.lower() in
                        (".jpg", ".png", ".mp4", ".wav", ".mov", ".m4a", ".mp3", ".webp", ".heic", ".avif")
                        and p.stat().st_size <= MAX_SEED_BYTES)[::6]
    return seeds


def build_case_bytes(case: Case) -> bytes:
    rng = np.random.default_rng(case.case_seed)
    data = Path(case.seed_file).read_bytes()
    if case.mutator == "none":  # a sweep: the file as it is
        return data
    if case.mutator == "splice":
        return splice(data, rng, Path(case.other_file).read_bytes())  # type: ignore[arg-type]
    out = MUTATORS[case.mutator](data, rng)
    if rng.random() < 0.3:  # stack a second mutation now and then
        names = sorted(MUTATORS)
        out = MUTATORS[names[int(rng.integers(0, len(names)))]](out, rng) or out
    return out or b"\x00"


def plan_cases(seeds: list[Path], seed: int, count: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    names = sorted(MUTATORS) + ["splice"]
    cases = []
    for k in range(count):
        s = seeds[int(rng.integers(0, len(seeds)))]
        m = names[int(rng.integers(0, len(names)))]
        other = str(seeds[int(rng.integers(0, len(seeds)))]) if m == "splice" else None
        cases.append(Case(f"{seed}-{k}", str(s), m, int(rng.integers(0, 2**31)), other))
    return cases


def _claims(data_dir: Path) -> tuple[str | None, str | None]:
    """Enrol a face and a voice from the shared media (when present), so the
    claim detectors run on every fuzzed file too."""
    from detectors.identity.enroll import ReferenceStore
    from detectors.speaker.enroll import VoiceStore
    from verifier.selection import face_reference_dir, voice_reference_dir

    root = shared_dir()
    person = speaker = None
    if (root / REFERENCE_FACE).is_file():
        ReferenceStore(face_reference_dir(data_dir)).enroll("fuzz-person", [root / REFERENCE_FACE])
        person = "fuzz-person"
    if (root / REFERENCE_VOICE).is_file():
        VoiceStore(voice_reference_dir(data_dir)).enroll("fuzz-speaker", [root / REFERENCE_VOICE])
        speaker = "fuzz-speaker"
    return person, speaker


def _try_enrol(path: Path, data_dir: Path) -> tuple[str, str] | None:
    """Enrolment reads hostile files too (`verifier enroll NAME --face X
    --voice Y`): a mutated file must be enrolled or refused with an
    EnrolmentError, nothing else. Returns a failure, or None."""
    from detectors.identity.enroll import EnrolmentError, ReferenceStore
    from detectors.speaker.enroll import VoiceStore

    with tempfile.TemporaryDirectory(dir=data_dir) as scratch:
        for store in (ReferenceStore(Path(scratch) / "faces"), VoiceStore(Path(scratch) / "voices")):
            try:
                store.enroll("fuzz-enrolment", [path])
            except EnrolmentError:
                pass
            except Exception as exc:
                return "internal_error", f"enrol ({type(store).__name__}): {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    return None


def _worker(conn, data_dir: str) -> None:
    from verifier.config import Settings
    from verifier.errors import VerifierError
    from verifier.pipeline import DETECTOR_FAILED, Verifier
    from verifier.report.html import render_html
    from verifier.selection import select_detectors

    data = Path(data_dir)
    settings = Settings().with_(data_dir=data, record_to_ledger=False)
    person, speaker = _claims(data)
    selection = select_detectors(data, ",".join(ALL_DETECTORS), person, speaker)
    verifier = Verifier(settings, detector_names=list(selection.names or ()))
    while True:
        msg = conn.recv()
        if msg is None:
            return
        path = Path(msg)
        try:
            result = verifier.verify(path, selection=selection)
            render_html(result)
            result.model_dump_json(by_alias=True)
            failed = [f"{f.detector}: {f.reason}" for f in result.findings if f.reason.startswith(DETECTOR_FAILED)]
            answer = ("detector_failed", "; ".join(failed)) if failed else ("verdict", result.verdict.label.value)
        except VerifierError as exc:
            answer = ("input_error", f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            answer = ("internal_error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        conn.send(_try_enrol(path, data) or answer)


class WorkerPool:
    """One worker process, restarted after a crash or a hang."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.proc: mp.Process | None = None
        self.conn = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, str(self.data_dir)), daemon=True)
        self.proc.start()
        self.conn = parent

    def run(self, path: Path, timeout: float) -> tuple[str, str]:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        assert self.conn is not None and self.proc is not None
        self.conn.send(str(path))
        if self.conn.poll(timeout):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
            self.proc = None
            return "hang", f"no answer within {timeout:.0f} s"
        code = self.proc.exitcode
        self.proc = None
        return "crash", f"worker exited with code {code}"

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()


def run_cases(cases: list[Case], out: Path, deadline: float, case_timeout: float) -> list[Outcome]:
    failures = out / "failures"
    failures.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="fuzz-data-") as data_dir, \
            (out / "results.jsonl").open("a") as log:
        pool = WorkerPool(Path(data_dir))
        case_dir = Path(data_dir) / "cases"
        case_dir.mkdir()
        try:
            for case in cases:
                if time.monotonic() > deadline:
                    break
                data = build_case_bytes(case)
                path = case_dir / f"{case.case_id}{Path(case.seed_file).suffix}"
                path.write_bytes(data)
                t0 = time.monotonic()
                kind, detail = pool.run(path, case_timeout)
                o = Outcome(case.case_id, case.seed_file, case.mutator, kind, detail,
                            round(time.monotonic() - t0, 2), len(data))
                outcomes.append(o)
                log.write(json.dumps(asdict(o) | {"case": asdict(case)}) + "\n")
                log.flush()
                if kind not in ("verdict", "input_error"):
                    shutil.copy(path, failures / path.name)
                    print(f"[{kind}] {case.case_id} {Path(case.seed_file).name} {case.mutator}: "
                          f"{detail.splitlines()[0][:200]}", flush=True)
                path.unlink()
                shutil.rmtree(Path(data_dir) / "evidence", ignore_errors=True)
                shutil.rmtree(Path(data_dir) / "artifacts", ignore_errors=True)
        finally:
            pool.close()
    return outcomes


def summarise(outcomes: list[Outcome]) -> str:
    kinds = Counter(o.kind for o in outcomes)
    times = sorted(o.seconds for o in outcomes)
    lines = [f"cases: {len(outcomes)}", *(f"  {k}: {n}" for k, n in kinds.most_common())]
    if times:
        lines.append(f"seconds per case: median {times[len(times) // 2]:.2f}, max {times[-1]:.2f}")
    by_mut = Counter((o.mutator, o.kind) for o in outcomes)
    lines.append("mutator\tverdict\tinput_error\tother")
    for m in sorted({o.mutator for o in outcomes}):
        other = sum(n for (mm, k), n in by_mut.items() if mm == m and k not in ("verdict", "input_error"))
        lines.append(f"{m}\t{by_mut[(m, 'verdict')]}\t{by_mut[(m, 'input_error')]}\t{other}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--case-timeout", type=float, default=120)
    ap.add_argument("--replay", nargs="*", help="case ids from a previous results.jsonl in OUT")
    ap.add_argument("--sweep", nargs="+", type=Path,
                    help="instead of mutating: every file under these paths, unchanged (a real corpus)")
    ap.add_argument("--media-seeds-only", action="store_true",
                    help="only the shared faces-and-speech seeds, whose cases reach deepest into the detectors")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.minutes * 60
    if args.replay:
        recorded = {}
        for line in (args.out / "results.jsonl").read_text().splitlines():
            doc = json.loads(line)
            recorded[doc["case_id"]] = Case(**doc["case"])
        cases = [recorded[c] for c in args.replay]
    elif args.sweep:
        files = sorted(f for root in args.sweep for f in ([root] if root.is_file() else root.rglob("*")) if f.is_file())
        cases = [Case(f"sweep-{k}", str(f), "none", 0) for k, f in enumerate(files)]
    else:
        seeds = collect_seeds(args.out / "seeds")
        if args.media_seeds_only:
            seeds = [p for p in seeds if any(str(p).endswith(rel) for rel in SHARED_SEEDS)]
            if not seeds:
                ap.error(f"--media-seeds-only: no shared media under {shared_dir()}")
        print(f"{len(seeds)} seed files; sha256 of the list "
              f"{hashlib.sha256(''.join(map(str, seeds)).encode()).hexdigest()[:12]}", flush=True)
        cases = plan_cases(seeds, args.seed, args.cases)
    outcomes = run_cases(cases, args.out, deadline, args.case_timeout)
    print(summarise(outcomes))
    return 0 if all(o.kind in ("verdict", "input_error") for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
