"""Intake: hashes of the original bytes, content-addressed read-only store, custody trail."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from verifier.config import Settings
from verifier.errors import FileTooLargeError, InputError, NotMediaError
from verifier.intake import EvidenceStore, check_input_path
from verifier.media import probe, sniff, sniff_file
from verifier.pipeline import Verifier


def test_hashes_match_hashlib_and_store_is_content_addressed(tmp_path):
    src = tmp_path / "f.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # several chunks plus a tail
    src.write_bytes(data)
    store = EvidenceStore(tmp_path / "ev")
    first = store.ingest(src)
    assert first.hashes.sha256 == hashlib.sha256(data).hexdigest()
    assert first.hashes.sha512 == hashlib.sha512(data).hexdigest()
    assert first.hashes.size == len(data)
    assert first.stored_path.name == first.sha256
    assert first.stored_path.read_bytes() == data
    assert not (first.stored_path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    again = store.ingest(src)
    assert again.stored_path == first.stored_path and not again.newly_stored
    assert list((tmp_path / "ev" / "incoming").iterdir()) == []


def test_store_never_overwrites_an_existing_original(tmp_path):
    src = tmp_path / "f.bin"
    src.write_bytes(b"x" * 1000)
    store = EvidenceStore(tmp_path / "ev")
    stored = store.ingest(src).stored_path
    inode = stored.stat().st_ino
    store.ingest(src)
    assert stored.stat().st_ino == inode


def test_size_limit(tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(b"\0" * (2 << 20))
    with pytest.raises(FileTooLargeError):
        EvidenceStore(tmp_path / "ev").ingest(src, max_bytes=1 << 20)
    assert list((tmp_path / "ev" / "incoming").iterdir()) == []


def test_input_path_checks(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        check_input_path(tmp_path / "missing")
    with pytest.raises(InputError, match="is a directory"):
        check_input_path(tmp_path)


@pytest.mark.parametrize(
    "head,mime",
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A mp42", "audio/mp4"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
    ],
)
def test_sniff_from_bytes(head, mime):
    assert sniff(head.ljust(64, b"\0")).mime_type == mime


def test_sniff_rejects_text_and_empty(tmp_path):
    assert sniff(b"hello world, this is not media at all....") is None
    empty = tmp_path / "e.jpg"
    empty.write_bytes(b"")
    with pytest.raises(NotMediaError, match="empty"):
        sniff_file(empty)


def test_raw_aac_is_audio_and_a_lone_sync_word_is_not(tmp_path):
    """Phones and recorders export raw AAC (ADTS ``.aac``): it must be taken
    as audio, decoded, and verified like any other recording."""
    import numpy as np

    from audio.encode import write_audio

    t = np.arange(16000 * 2) / 16000
    aac = write_audio(tmp_path / "note.aac", (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, codec="aac")
    found = sniff_file(aac)
    assert (found.kind.value, found.mime_type) == ("audio", "audio/aac")
    info = probe(aac, found)
    assert info.kind.value == "audio" and 1.8 < info.duration_s < 2.3
    # a 20-byte ADTS frame: followed by a second sync word it is AAC, by zeros it is not
    frame = bytes([0xFF, 0xF1, 0x60, 0x40, 20 >> 3, (20 & 0x7) << 5 | 0x1F, 0xFC]) + bytes(13)
    assert sniff((frame + frame).ljust(64, b"\0")).mime_type == "audio/aac"
    assert sniff(frame.ljust(64, b"\0")) is None


def test_probe_reports_streams(media_fixtures):
    mp4 = media_fixtures[1]["mp4"]["plain"]
    info = probe(mp4, sniff_file(mp4))
    kinds = sorted(s.kind for s in info.streams)
    assert kinds == ["audio", "video"]
    video = next(s for s in info.streams if s.kind == "video")
    assert (video.codec, video.width, video.height) == ("h264", 128, 96)
    assert video.frame_rate == pytest.approx(15)
    audio = next(s for s in info.streams if s.kind == "audio")
    assert audio.sample_rate == 44100 and audio.channels == 1
    assert 0.9 < info.duration_s < 1.2
    m4a = media_fixtures[1]["m4a"]["plain"]
    assert probe(m4a, sniff_file(m4a)).kind.value == "audio"


def test_verify_records_custody_events(media_fixtures, tmp_path):
    settings = Settings(data_dir=tmp_path, operator="alice@intake")
    result = Verifier(settings, detector_names=[]).verify(media_fixtures[1]["png"]["plain"])
    actions = [e.action for e in result.custody]
    assert actions == ["received", "stored", "verified"]
    assert all(e.operator == "alice@intake" and e.sha256 == result.input.hashes.sha256 for e in result.custody)
    log = [json.loads(line) for line in settings.custody_log.read_text().splitlines()]
    assert [e["action"] for e in log] == ["received", "stored", "verified"]
    assert result.input.stored_as.endswith(result.input.hashes.sha256)


def test_rejected_input_leaves_a_custody_record(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_text("not media")
    settings = Settings(data_dir=tmp_path / "d")
    with pytest.raises(NotMediaError):
        Verifier(settings, detector_names=[]).verify(junk)
    (event,) = [json.loads(line) for line in settings.custody_log.read_text().splitlines()]
    assert event["action"] == "rejected" and "junk.mp4" in event["detail"]


class _PrepareProbe:
    """A detector whose head-start hook fails: the run must go on."""

    name = "test_prepare_probe"
    version = "0"
    modality = "image"
    calls: list[str] = []

    @property
    def weights_sha256(self):
        return None

    def applies_to(self, media):
        return True

    def prepare(self, ctx):
        self.calls.append("prepare")
        raise RuntimeError("no head start today")

    def analyze(self, ctx):
        from detectors.base import not_applicable

        self.calls.append("analyze")
        return not_applicable(self, "probe")


def test_prepare_runs_first_and_its_failure_does_not_stop_the_run(media_fixtures, tmp_path, monkeypatch):
    from detectors.base import _REGISTRY

    monkeypatch.setitem(_REGISTRY, "test_prepare_probe", _PrepareProbe)  # gone again after the test
    _PrepareProbe.calls.clear()
    result = Verifier(Settings(data_dir=tmp_path), detector_names=["test_prepare_probe"]).verify(
        media_fixtures[1]["png"]["plain"])
    assert _PrepareProbe.calls == ["prepare", "analyze"]
    assert [f.reason for f in result.findings] == ["probe"]


def test_a_file_that_changes_while_it_is_copied_is_refused_not_recorded(tmp_path, monkeypatch):
    """Red-team finding: a 1.5 GB file truncated while intake copied it got a record (exit 0) for
    109 MB that never existed together as one file."""
    import verifier.intake as intake

    src = tmp_path / "growing.wav"
    src.write_bytes(b"RIFF" + b"\0" * 5000)
    real_open = intake.open_regular

    def opened_when_smaller(path):
        fh, st = real_open(path)
        return fh, os.stat_result((*st[:6], st.st_size - 100, *st[7:]))  # its size as first seen

    monkeypatch.setattr(intake, "open_regular", opened_when_smaller)
    store = EvidenceStore(tmp_path / "store")
    with pytest.raises(InputError, match="changed while it was being read"):
        store.ingest(src)
    assert not list((tmp_path / "store").rglob("*.part")) and not (tmp_path / "store" / "sha256").exists()


def test_a_fifo_is_refused_when_opened_not_read_forever(tmp_path):
    from verifier.intake import hash_file, open_regular

    fifo = tmp_path / "call.mp4"
    os.mkfifo(fifo)  # no writer: a plain open() would block here for ever
    with pytest.raises(InputError, match="not a regular file"):
        open_regular(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        hash_file(fifo)


def test_a_rewrite_with_its_mtime_set_back_is_still_caught(tmp_path, monkeypatch):
    import verifier.intake as intake

    src = tmp_path / "exhibit.wav"
    src.write_bytes(b"RIFF" + b"\0" * 5000)
    real_open = intake.open_regular

    def ctime_changed(path):
        fh, st = real_open(path)
        fields = list(st)
        fake = os.stat_result(fields, {"st_mtime_ns": st.st_mtime_ns, "st_ctime_ns": st.st_ctime_ns - 10**9,
                                       "st_atime_ns": st.st_atime_ns})
        return fh, fake

    monkeypatch.setattr(intake, "open_regular", ctime_changed)
    with pytest.raises(InputError, match="set back"):
        EvidenceStore(tmp_path / "store").ingest(src)


def test_a_store_that_cannot_be_written_is_a_store_error_not_a_bad_input(media_fixtures, tmp_path):
    from tests.conftest import assert_no_traceback, run_cli
    from verifier.errors import EXIT_SECURITY_ERROR

    data = tmp_path / "data"
    (data / "evidence").mkdir(parents=True)
    (data / "evidence" / "incoming").write_text("not a directory")  # the store cannot be written
    r = run_cli("verify", "--no-ledger", str(media_fixtures[1]["wav"]["plain"]), data_dir=data)
    assert_no_traceback(r)
    assert r.code == EXIT_SECURITY_ERROR
    assert "evidence store" in r.stderr and "read failed" not in r.stderr


def test_a_file_size_limit_on_the_store_is_not_blamed_on_the_input(media_fixtures, tmp_path):
    import resource
    import signal

    from tests.conftest import assert_no_traceback, run_cli

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    big = media_fixtures[1]["wav"]["plain"]
    assert big.stat().st_size > 4096
    r = run_cli("verify", "--no-ledger", str(big), data_dir=tmp_path / "data", preexec_fn=small_files)
    assert_no_traceback(r)
    assert r.code == 3 and "evidence store" in r.stderr and "cannot write" in r.stderr, r.stderr


def test_an_unwritable_custody_log_stores_nothing_and_says_so(media_fixtures, tmp_path):
    from verifier.errors import EvidenceStoreError

    data = tmp_path / "data"
    (data / "custody.jsonl").mkdir(parents=True)  # cannot be appended to, even by root
    v = Verifier(Settings(data_dir=data, record_to_ledger=False), detector_names=[])
    with pytest.raises(EvidenceStoreError, match="custody log"):
        v.verify(media_fixtures[1]["wav"]["plain"])
    # No original without a record of its receipt.
    assert not (data / "evidence" / "sha256").exists() or not any((data / "evidence" / "sha256").rglob("*"))
    assert not list((data / "evidence").rglob("*.part"))


def test_tags_are_bounded_in_the_record(tmp_path):
    import av
    import numpy as np

    from verifier.media import MAX_TAG_CHARS, MAX_TAGS, bounded_tags

    path = tmp_path / "tagged.mkv"
    with av.open(str(path), "w") as out:
        out.metadata["ARTIST"] = "x" * 200_000  # a file maker's tag, not ours to copy whole
        stream = out.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        frame.rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    media = probe(path, sniff_file(path), path.name)
    artist = next(v for k, v in media.tags.items() if k.lower() == "artist")
    assert len(artist) < MAX_TAG_CHARS + 64 and artist.endswith("(200000 characters, cut)")
    assert len(bounded_tags({f"k{i}": "v" for i in range(500)})) == MAX_TAGS


def test_a_custody_line_cut_short_does_not_swallow_the_next_event(tmp_path):
    from verifier.intake import CustodyLog, custody_event

    log = tmp_path / "custody.jsonl"
    log.write_text('{"action": "received", "sha256": "ab')  # an append cut by a file-size limit
    settings = Settings(data_dir=tmp_path)
    CustodyLog(log).append(custody_event(settings, "received", "cd" * 32, detail="next"))
    lines = log.read_text().split("\n")
    assert json.loads(lines[1])["detail"] == "next"


def test_a_file_named_through_a_symlink_has_its_target_in_the_custody_trail(media_fixtures, tmp_path):
    target = tmp_path / "real" / "exhibit.wav"
    target.parent.mkdir()
    target.write_bytes(media_fixtures[1]["wav"]["plain"].read_bytes())
    link = tmp_path / "looks_like_another.wav"
    link.symlink_to(target)
    v = Verifier(Settings(data_dir=tmp_path / "data", record_to_ledger=False), detector_names=[]).verify(link)
    received = next(e for e in v.custody if e.action == "received")
    assert received.detail.startswith(str(link)) and f"a symbolic link to {target}" in received.detail
    assert v.input.path == str(link)
