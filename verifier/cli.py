"""The ``verifier`` command line: a thin shell over ``pipeline.Verifier``.

User errors print one line to stderr and exit with a documented code
(see ``verifier.errors``); only a bug prints a traceback, and only with
``VERIFIER_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Iterator, NamedTuple, Optional

import typer
from rich.console import Console

from verifier.config import Settings
from verifier.display import visible
from verifier.errors import (
    EXIT_DECLARED_SYNTHETIC,
    EXIT_INPUT_ERROR,
    EXIT_INTERNAL_ERROR,
    EXIT_MANIPULATED,
    EXIT_OK,
    EXIT_SECURITY_ERROR,
    EXIT_TAMPERED,
    InputError,
    NotMediaError,
    UnrecordedVerdictError,
    VerifierError,
    most_severe,
)
from verifier.evidence import VerdictLabel, Verification
from verifier.fusion import PROFILES, UnknownProfileError
from verifier.intake import printable_path

app = typer.Typer(
    name="verifier",
    help="Verify the provenance and authenticity of image, audio and video files.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
provenance_app = typer.Typer(help="Read and issue C2PA Content Credentials.", no_args_is_help=True)
app.add_typer(provenance_app, name="provenance")

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

LABEL_EXIT = {
    VerdictLabel.tampered: EXIT_TAMPERED,
    VerdictLabel.likely_manipulated: EXIT_MANIPULATED,
    VerdictLabel.declared_synthetic: EXIT_DECLARED_SYNTHETIC,
}

DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Evidence store, custody log and ledger location.", envvar="VERIFIER_DATA_DIR")]


def _say(console: Console, text: str) -> None:
    """One line of text that may hold file names or file-made strings: literal, controls escaped."""
    console.print(visible(text), markup=False, soft_wrap=True)


def _fail(message: str, code: int) -> None:
    _say(err, f"error: {message}")
    raise typer.Exit(code)


class Input(NamedTuple):
    """One thing to verify, as found on the command line or by walking a directory."""

    path: Path
    shown: str  # printable: a name that is not UTF-8 is shown (and recorded) with \x escapes
    walked: bool
    error: str | None = None  # a directory that could not be walked: an input error, not silence
    skip: str | None = None  # met while walking and not a file to read (a FIFO, a device)


def _not_walked(full: Path, name: str) -> str | None:
    if full.is_symlink():
        return "symbolic link, not followed (name its target to verify it)"
    if name.startswith("."):
        return "hidden, not walked (name it to verify it)"
    return None


def iter_inputs(paths: list[Path]) -> Iterator[Input]:
    """Directories are walked in sorted order; hidden entries and symlinks are not followed, and
    each one is reported as skipped: an intake operator must know what a folder's run left out."""
    for p in paths:
        if p.is_dir():
            unreadable: list[OSError] = []
            for root, dirs, files in os.walk(p, onerror=unreadable.append):
                entries = sorted([(d, True) for d in dirs] + [(f, False) for f in files])
                left_out = {name: why for name, _ in entries if (why := _not_walked(Path(root) / name, name))}
                dirs[:] = [d for d, is_dir in entries if is_dir and d not in left_out]
                for name, is_dir in entries:
                    full = Path(root) / name
                    if name in left_out:
                        yield Input(full, printable_path(str(full)), True, skip=left_out[name])
                    elif not is_dir:
                        special = None if full.is_file() or not full.exists() else "not a regular file"
                        yield Input(full, printable_path(str(full)), True, skip=special)
            for exc in unreadable:
                where = printable_path(str(exc.filename or p))
                yield Input(Path(exc.filename or p), where, True,
                            error=f"{where}: cannot read this directory ({exc.strerror}): its files were not verified")
        else:
            yield Input(p, printable_path(str(p)), False)


class LedgerUnavailableError(VerifierError):
    """The ledger could not be opened or written: verdicts must not go unrecorded silently."""

    exit_code = EXIT_SECURITY_ERROR


def _open_ledger(settings: Settings, hint: str = "use --no-ledger to verify without recording", create: bool = True):
    from verifier.ledger import Ledger, LedgerError

    try:
        return Ledger.open(settings, create=create)
    except LedgerError as exc:
        raise LedgerUnavailableError(f"ledger {settings.ledger_db_url}: {exc} ({hint})") from None


CLAIMS_NEED_LEDGER = "identity claims and enrolments are checked against the ledger, opened with its key"


def _ledger_writer(ledger):
    from verifier.evidence import LedgerRef
    from verifier.ledger import LedgerError

    def write(record: dict) -> LedgerRef:
        try:
            entry = ledger.append(record)
        except LedgerError as exc:
            raise LedgerUnavailableError(f"verdict reached but NOT recorded in the ledger: {exc}") from None
        return LedgerRef(index=entry.index, origin=ledger.origin, leaf_hash=entry.leaf_hash, receipt=entry.receipt)

    return write


@app.command()
def verify(
    files: Annotated[list[str], typer.Argument(help="Files or directories to verify.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document per file (JSON Lines).")] = False,
    profile: Annotated[str, typer.Option(help=f"Decision profile: {', '.join(PROFILES)}.")] = "finance",
    trust_anchors: Annotated[Optional[list[Path]], typer.Option("--trust-anchors", help="PEM file of extra C2PA trust anchors (repeatable).")] = None,
    operator: Annotated[Optional[str], typer.Option(help="Operator name recorded in the custody log.", envvar="VERIFIER_OPERATOR")] = None,
    data_dir: DataDirOpt = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Ledger database URL (default: SQLite in the data dir).", envvar="VERIFIER_LEDGER_URL")] = None,
    no_ledger: Annotated[bool, typer.Option("--no-ledger", help="Do not record verdicts in the ledger.")] = False,
    remote_manifests: Annotated[bool, typer.Option("--remote-manifests", help="Allow fetching remote C2PA manifests (network).")] = False,
    ocsp: Annotated[bool, typer.Option("--ocsp", help="Allow OCSP revocation checks (network).")] = False,
    detectors: Annotated[Optional[str], typer.Option("--detectors", help="Comma-separated detectors to run, 'all', or 'none' (default: those enabled by default; see README for each one's measured error rates).")] = None,
    claimed_person: Annotated[Optional[str], typer.Option("--claimed-person", help="Name enrolled with `verifier enroll`: adds a face-identity claim check.")] = None,
    claimed_speaker: Annotated[Optional[str], typer.Option("--claimed-speaker", help="Name whose voice was enrolled with `verifier enroll`: adds a speaker check.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report (a directory when a folder or several files are given: NAME.report.html each, numbered when two inputs share a name).")] = None,
) -> None:
    """Verify FILES and print a verdict for each."""
    if profile not in PROFILES:
        _fail(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}", EXIT_INPUT_ERROR)
    settings = Settings().with_(profile=profile, remote_manifest_fetch=remote_manifests, ocsp_fetch=ocsp,
                                record_to_ledger=not no_ledger, trust_anchors=tuple(trust_anchors or ()))
    if operator:
        settings = settings.with_(operator=operator)
    if data_dir:
        settings = settings.with_(data_dir=data_dir)
    if db:
        settings = settings.with_(ledger_url=db)

    from verifier.pipeline import Verifier
    from verifier.selection import select_detectors

    ledger = None
    codes: list[int] = []
    try:
        try:
            if settings.record_to_ledger or claimed_person or claimed_speaker:
                # With --no-ledger no verdict is recorded, but a claim is still checked against the enrolment
                # the ledger recorded, on the ledger opened with its key (enrolment_log).
                # A run that records nothing starts no ledger: without one, nothing was ever enrolled here.
                try:
                    ledger = _open_ledger(settings, "use --no-ledger to verify without recording" if settings.record_to_ledger
                                          and not (claimed_person or claimed_speaker) else CLAIMS_NEED_LEDGER,
                                          create=settings.record_to_ledger)
                except LedgerUnavailableError:
                    if not settings.record_to_ledger:  # the plainer mistake first: never enrolled, a damaged reference
                        select_detectors(settings.data_dir, detectors, claimed_person, claimed_speaker, ledger=None)
                    raise
            selection = select_detectors(settings.data_dir, detectors, claimed_person, claimed_speaker, ledger=ledger)
        except VerifierError as exc:
            _fail(str(exc), exc.exit_code)
        verifier = Verifier(settings, detector_names=list(selection.names) if selection.names is not None else None,
                            detector_options=selection.options)
        if settings.record_to_ledger:
            verifier.ledger_writer = _ledger_writer(ledger)
            verifier.ledger_origin = ledger.origin
        try:
            verifier.session  # parse the trust anchors once; a bad --trust-anchors fails here
        except VerifierError as exc:
            _fail(str(exc), exc.exit_code)
        inputs = list(iter_inputs([Path(f) for f in files]))
        used_reports: set[str] = set()
        for path, shown, walked, problem, skip in inputs:
            if problem is not None:
                codes.append(_report_error(InputError(problem), shown, as_json))
                continue
            if skip is not None:
                _say(err, f"skipped: {shown}: {skip}")
                if as_json:
                    print(json.dumps({"input": {"path": shown}, "skipped": {"reason": skip}}), flush=True)
                continue
            report_path = None
            if report is not None:
                one_file = len(files) == 1 and not walked  # a folder's run writes a folder of reports
                report_path = report if one_file and not report.is_dir() else _report_name(report, path, used_reports)
            codes.append(_verify_one(verifier, path, shown, as_json, walked, report_path))
    finally:
        if ledger is not None:
            ledger.close()
    raise typer.Exit(most_severe(codes))


def _report_name(folder: Path, path: Path, used: set[str]) -> Path:
    """``NAME.report.html`` in ``folder``, numbered when another input of this run has the same
    name (``a/x.png`` and ``b/x.png``): one file's report must never replace another's."""
    stem = os.fsdecode(os.fsencode(path.name)[:200])  # room for the suffix within 255-byte names
    name, n = f"{stem}.report.html", 1
    while name.lower() in used:  # A.png and a.png are one name on case-insensitive file systems
        n += 1
        name = f"{stem}.{n}.report.html"
    used.add(name.lower())
    return folder / name


def _verify_one(verifier, path: Path, shown: str, as_json: bool, walked: bool = False, report: Path | None = None) -> int:
    unrecorded: UnrecordedVerdictError | None = None
    display_failed = False
    try:
        result: Verification = verifier.verify(path, display_path=shown)
    except UnrecordedVerdictError as exc:  # show the verdict it reached, then say it is not in the ledger
        result, unrecorded = exc.verification, exc  # type: ignore[assignment]
    except NotMediaError as exc:
        if not walked:
            return _report_error(exc, shown, as_json)
        # A non-media file met while walking a folder was not asked for by name.
        _say(err, f"skipped: {exc}")
        if as_json:
            print(json.dumps({"input": {"path": shown}, "skipped": {"reason": str(exc)}}), flush=True)
        return EXIT_OK
    except (VerifierError, UnknownProfileError) as exc:
        return _report_error(exc, shown, as_json)
    except Exception as exc:  # a bug: say so plainly, keep going with the other files
        if os.environ.get("VERIFIER_DEBUG"):
            raise
        _say(err, f"internal error on {shown}: {type(exc).__name__}: {exc} (set VERIFIER_DEBUG=1 for a traceback)")
        if as_json:
            print(json.dumps({"input": {"path": shown}, "error": {"type": "internal_error", "message": f"{type(exc).__name__}: {exc}"}}), flush=True)
        return EXIT_INTERNAL_ERROR
    # The record is printed first: a report or ledger failure must not hide the verdict reached.
    if as_json and unrecorded is None:
        print(result.model_dump_json(by_alias=True), flush=True)
    elif as_json:
        doc = json.loads(result.model_dump_json(by_alias=True)) | {"ledger_error": str(unrecorded)}
        print(json.dumps(doc, separators=(",", ":"), ensure_ascii=False), flush=True)
    else:
        from verifier.output import print_summary

        try:
            print_summary(out, result)
        except Exception as exc:  # a display bug must not hide the verdict or stop the other files
            _say(out, f"{shown}: {result.verdict.label.value}")
            _say(err, f"internal error printing the summary of {shown}: {type(exc).__name__}: {exc}")
            display_failed = True
    codes = [LABEL_EXIT.get(result.verdict.label, EXIT_OK)] + ([EXIT_INTERNAL_ERROR] if display_failed else [])
    if report is not None:
        from verifier.report import write_report

        try:
            write_report(result, report)
        except OSError as exc:
            _say(err, f"error: cannot write report {report}: {exc.strerror}")
            codes.append(EXIT_INPUT_ERROR)
        except Exception as exc:  # a rendering bug must not hide the verdict already printed
            _say(err, f"internal error writing report {report}: {type(exc).__name__}: {exc}")
            codes.append(EXIT_INTERNAL_ERROR)
    if unrecorded is not None:
        _say(err, f"error: {unrecorded}")
        codes.append(unrecorded.exit_code)
    return most_severe(codes)


def _report_error(exc: Exception, shown: str, as_json: bool) -> int:
    code = getattr(exc, "exit_code", EXIT_INPUT_ERROR)
    _say(err, f"error: {exc}")
    if as_json:
        kind = "input_error" if code == EXIT_INPUT_ERROR else "error"
        print(json.dumps({"input": {"path": shown}, "error": {"type": kind, "message": str(exc)}}), flush=True)
    return code


def _sort_references(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """Split enrolment files by content: images are faces, audio and video are voices."""
    from verifier.evidence import MediaKind
    from verifier.media import sniff_file

    faces, voices = [], []
    for p in files:
        if not p.is_file():
            _fail(f"{p}: no such file", EXIT_INPUT_ERROR)
        try:
            kind = sniff_file(p).kind
        except NotMediaError as exc:
            _fail(f"{exc}; enrol face photos (JPEG, PNG, ...) or recordings of the person speaking (WAV, MP3, M4A, MP4, ...)",
                  EXIT_INPUT_ERROR)
        (faces if kind == MediaKind.image else voices).append(p)
    return faces, voices


@app.command()
def enroll(
    name: Annotated[str, typer.Argument(help="Person's name, e.g. 'Jane Doe (CFO)'.")],
    files: Annotated[Optional[list[Path]], typer.Argument(help="Reference files, sorted by content: photos enrol the face, audio or video recordings enrol the voice.", show_default=False)] = None,
    face: Annotated[Optional[list[Path]], typer.Option("--face", help="Reference photo showing exactly this one face (repeatable).")] = None,
    voice: Annotated[Optional[list[Path]], typer.Option("--voice", help="Recording (audio or video) of only this person speaking, >= 3 s of speech (repeatable).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Start NAME's reference afresh with these files instead of adding to it.")] = False,
    adopt: Annotated[bool, typer.Option("--adopt", help="Record NAME's existing references in the ledger as they are (references enrolled before enrolments were recorded); give no files.")] = False,
    data_dir: DataDirOpt = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Ledger database URL (default: SQLite in the data dir).", envvar="VERIFIER_LEDGER_URL")] = None,
) -> None:
    """Enrol NAME's reference face photos and/or voice recordings, for
    `verify --claimed-person NAME` and `verify --claimed-speaker NAME`.

    Each enrolment is recorded in the ledger (the SHA-256 of the reference
    written and of each file enrolled), and a claim is checked only against
    the reference the latest enrolment recorded (so enrolment always needs
    the ledger and its key)."""
    from detectors.identity.enroll import EnrolmentError, reference_file

    try:
        reference_file(Path("."), name)  # a bad name is refused before any file is read
    except EnrolmentError as exc:
        _fail(str(exc), EXIT_INPUT_ERROR)
    faces, voices = _sort_references(list(files or []))
    for p in [*(face or []), *(voice or [])]:
        if not p.is_file():
            _fail(f"{p}: no such file", EXIT_INPUT_ERROR)
    faces += list(face or [])
    voices += list(voice or [])
    if adopt and (faces or voices or replace):
        _fail("--adopt records the references already enrolled for NAME, as they are: give it no files "
              "and no --replace", EXIT_INPUT_ERROR)
    if not adopt and not faces and not voices:
        _fail("give at least one reference: a face photo or a recording of the person speaking "
              "(verifier enroll NAME FILE..., or --face PHOTO / --voice RECORDING)", EXIT_INPUT_ERROR)
    settings = Settings().with_(**({"data_dir": data_dir} if data_dir else {}), **({"ledger_url": db} if db else {}))
    ledger = None
    try:
        try:
            ledger = _open_ledger(settings, CLAIMS_NEED_LEDGER)
        except VerifierError as exc:
            _fail(str(exc), exc.exit_code)
        if adopt:
            _adopt_references(name, settings.data_dir, ledger)
        else:
            _enrol_files(name, faces, voices, settings.data_dir, ledger, replace)
    finally:
        if ledger is not None:
            ledger.close()


def _enrol_files(name: str, faces: list[Path], voices: list[Path], root: Path, ledger, replace: bool) -> None:
    from detectors.identity.enroll import EnrolmentError
    from verifier.enrolment_log import EnrolmentLog, LedgerGuard
    from verifier.selection import face_reference_dir, voice_reference_dir

    log = EnrolmentLog(ledger)  # one audit for the face and the voice
    recorded = "; recorded in the ledger at entry {}"
    done = []
    if faces:
        from detectors.identity.enroll import ReferenceStore

        guard = LedgerGuard(ledger, "face", name, log)
        try:
            ref = ReferenceStore(face_reference_dir(root)).enroll(name, faces, replace=replace, guard=guard)
        except EnrolmentError as exc:
            _fail(str(exc), EXIT_INPUT_ERROR)
        except VerifierError as exc:
            _fail(str(exc), exc.exit_code)
        done.append("face")
        _say(out, f"enrolled {ref.name}: {len(ref.embeddings)} reference face(s) in {face_reference_dir(root)}"
             + recorded.format(guard.index))
    if voices:
        from detectors.speaker.enroll import VoiceStore

        guard = LedgerGuard(ledger, "voice", name, log)
        partial = " (the face reference was updated; the voice reference was not)" if done else ""
        try:
            vref = VoiceStore(voice_reference_dir(root)).enroll(name, voices, replace=replace, guard=guard)
        except EnrolmentError as exc:
            _fail(f"{exc}{partial}", EXIT_INPUT_ERROR)
        except VerifierError as exc:
            _fail(f"{exc}{partial}", exc.exit_code)
        _say(out, f"enrolled {vref.name}: {len(vref.embeddings)} reference voice recording(s) "
             f"({sum(vref.speech_s):.1f} s of speech) in {voice_reference_dir(root)}"
             + recorded.format(guard.index))


def _adopt_references(name: str, root: Path, ledger) -> None:
    """Record NAME's existing references in the ledger as they are: how references
    enrolled before enrolments were recorded become usable for claims again."""
    from detectors.identity.enroll import EnrolmentError, ReferenceStore, UnknownPersonError
    from detectors.speaker.enroll import VoiceStore
    from verifier.enrolment_log import EnrolmentLog, LedgerGuard
    from verifier.selection import face_reference_dir, voice_reference_dir

    log = EnrolmentLog(ledger)
    adopted = 0
    for modality, store in (("face", ReferenceStore(face_reference_dir(root))), ("voice", VoiceStore(voice_reference_dir(root)))):
        try:
            ref = store.load(name)
        except UnknownPersonError:
            continue  # this person has no reference of this kind
        except EnrolmentError as exc:
            _fail(f"{modality} reference: {exc}", EXIT_INPUT_ERROR)
        try:
            index = LedgerGuard(ledger, modality, name, log).adopt(ref.sha256, list(ref.sources_sha256), ref.model_sha256)
        except VerifierError as exc:
            _fail(str(exc), exc.exit_code)
        adopted += 1
        _say(out, f"adopted {name}'s {modality} reference as it is (SHA-256 {ref.sha256}): recorded in the "
             f"ledger at entry {index}")
    if not adopted:
        _fail(f"nothing to adopt: no reference is enrolled for {name!r}", EXIT_INPUT_ERROR)


@app.command("detectors")
def list_detectors() -> None:
    """List detectors and whether each runs by default."""
    from detectors.base import DEFAULT_DETECTORS, available_detectors

    for n in available_detectors():
        out.print(f"{n}\t{'default' if n in DEFAULT_DETECTORS else 'opt-in (--detectors ' + n + ')'}")


from verifier.cli_corpus import corpus_app  # noqa: E402
from verifier.cli_eval import eval_app  # noqa: E402
from verifier.cli_faces import faces_corpus_cmd, faces_eval_cmd, faces_train_cmd  # noqa: E402
from verifier.cli_train import train_app  # noqa: E402
from verifier.ledger.cli import keys_app, ledger_app  # noqa: E402

corpus_app.command("faces")(faces_corpus_cmd)
train_app.command("faces")(faces_train_cmd)
eval_app.command("faces")(faces_eval_cmd)
app.add_typer(ledger_app, name="ledger")
app.add_typer(keys_app, name="keys")
app.add_typer(corpus_app, name="corpus")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")

from verifier import cli_provenance  # noqa: E402,F401  (registers the provenance sub-commands)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        _say(err, "interrupted")
        sys.exit(130)
