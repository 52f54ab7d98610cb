import pytest

from detectors.voice_clone.datasets import DatasetError, load_trials
from tests.audio.helpers import tone, write_wav


def _wav(p):
    p.parent.mkdir(parents=True, exist_ok=True)
    return write_wav(p, tone(300, 0.2, 8000), 8000)


def test_folder_layout(tmp_path):
    _wav(tmp_path / "bonafide" / "a.wav")
    _wav(tmp_path / "spoof" / "tts1" / "b.wav")
    _wav(tmp_path / "spoof" / "c.wav")
    t = load_trials(tmp_path, "folder")
    assert sorted((x.label, x.family) for x in t) == [(0, "-"), (1, "spoof"), (1, "tts1")]


def test_asvspoof2019_protocol(tmp_path):
    _wav(tmp_path / "flac" / "LA_E_1.wav")
    _wav(tmp_path / "flac" / "LA_E_2.wav")
    proto = tmp_path / "ASVspoof2019.LA.cm.eval.trl.txt"
    proto.write_text("LA_0039 LA_E_1 - A13 spoof\nLA_0040 LA_E_2 - - bonafide\n")
    t = load_trials(tmp_path, "asvspoof2019", proto)
    assert [(x.label, x.family, x.speaker) for x in t] == [(1, "A13", "LA_0039"), (0, "-", "LA_0040")]


def test_asvspoof5_protocol(tmp_path):
    _wav(tmp_path / "flac" / "E_0001.wav")
    _wav(tmp_path / "flac" / "E_0002.wav")
    proto = tmp_path / "ASVspoof5.eval.track_1.tsv.txt"
    proto.write_text("E_5 E_0001 F - - - AC3 A20 spoof -\nE_6 E_0002 M - - - - bonafide bonafide -\n")
    t = load_trials(tmp_path, "asvspoof5", proto)
    assert [(x.label, x.family) for x in t] == [(1, "A20"), (0, "-")]


def test_itw_and_wavefake(tmp_path):
    _wav(tmp_path / "itw" / "0.wav")
    _wav(tmp_path / "itw" / "1.wav")
    (tmp_path / "itw" / "meta.csv").write_text("file,speaker,label\n0.wav,Alec,spoof\n1.wav,Alec,bona-fide\n")
    assert [x.label for x in load_trials(tmp_path / "itw", "itw")] == [1, 0]
    _wav(tmp_path / "wf" / "LJSpeech-1.1" / "wavs" / "LJ001.wav")
    _wav(tmp_path / "wf" / "generated_audio" / "ljspeech_melgan" / "LJ001_gen.wav")
    t = sorted(load_trials(tmp_path / "wf", "wavefake"), key=lambda x: x.label)
    assert [(x.label, x.family) for x in t] == [(0, "-"), (1, "ljspeech_melgan")]


def test_missing_audio_is_reported(tmp_path):
    (tmp_path / "p.txt").write_text("S F404 - A01 spoof\n")
    with pytest.raises(DatasetError, match="F404"):
        load_trials(tmp_path, "asvspoof2019", tmp_path / "p.txt")
