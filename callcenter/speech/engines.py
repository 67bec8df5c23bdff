"""Offline speech engines behind one interface: a WAV file in, its words with times out.

- `pocketsphinx` (tests, demos): the PyPI wheel carries an en-US model, nothing to install.
  Its full-vocabulary decoding of telephone audio is poor, so the phrases that matter (the
  QA rules' and `speech_keywords`) are also looked for by keyword spotting, which finds
  them reliably, and put into the transcript where they were heard.
- `vosk` (production, Kaldi): a model directory the site installs (README: where to get
  Russian and English models).
- `faster-whisper` (production, CTranslate2 Whisper): a converted model directory.

Engines run in worker processes (callcenter/speech/runner.py): `transcribe` here is what a
worker calls; it loads the engine once per process. Nothing here touches the network: a
model that is not where the settings say is an `EngineError`, never a download.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from callcenter.recordings.paths import track_paths
from callcenter.speech.text import Word

ENGINES = ("pocketsphinx", "vosk", "faster-whisper")


class EngineError(Exception):
    """The engine cannot run: its package or model is missing or broken (the message says
    which and what to do)."""


@dataclass(frozen=True)
class EngineSpec:
    """Which engine with which model: what a worker process needs to load it (picklable)."""

    kind: str
    model_dir: Path | None = None
    language: str = "ru"
    keywords: tuple[str, ...] = ()
    kws_threshold: float = 1e-30

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.model_dir.name}" if self.model_dir else self.kind


class Engine(Protocol):
    language: str

    def transcribe(self, path: Path, phrases: Sequence[str]) -> list[Word]:
        """The words heard in a WAV file; `phrases` are worth looking for on purpose."""


def read_wav(path: Path) -> tuple[bytes, int]:
    """16-bit mono PCM and its rate (Asterisk's "wav": 8 kHz signed linear)."""
    try:
        with wave.open(str(path)) as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise EngineError(f"{path.name}: not 16-bit mono WAV")
            return wav.readframes(wav.getnframes()), wav.getframerate()
    except (wave.Error, EOFError) as exc:
        raise EngineError(f"{path.name}: unreadable WAV ({exc})") from exc


def pcm_16k(path: Path) -> bytes:
    """The file as 16 kHz mono 16-bit PCM, resampled by ffmpeg (a naive interpolation of
    telephone audio loses what keyword spotting needs)."""
    try:
        done = subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-ac", "1",
             "-ar", "16000", "-f", "s16le", "-"], capture_output=True, check=True, timeout=600)
    except FileNotFoundError as exc:
        raise EngineError("ffmpeg is not installed (it resamples audio for pocketsphinx)") from exc
    except subprocess.CalledProcessError as exc:
        raise EngineError(f"{path.name}: ffmpeg could not read it: "
                          f"{exc.stderr.decode(errors='replace')[:200]}") from exc
    return done.stdout


class PocketSphinx:
    """The test engine: en-US only, model inside the pocketsphinx wheel."""

    language = "en"

    def __init__(self, spec: EngineSpec) -> None:
        try:
            import pocketsphinx
        except ImportError as exc:
            raise EngineError("pocketsphinx is not installed (pip install pocketsphinx)") from exc
        self._ps = pocketsphinx
        model = spec.model_dir or Path(pocketsphinx.get_model_path()) / "en-us"
        if not (model / "en-us").is_dir() and not Path(model).is_dir():
            raise EngineError(f"pocketsphinx model not found at {model}")
        self.threshold = spec.kws_threshold
        self.keywords = spec.keywords
        try:
            self.decoder = pocketsphinx.Decoder(samprate=16000, loglevel="FATAL")
        except RuntimeError as exc:
            raise EngineError(f"pocketsphinx could not load its model: {exc}") from exc

    def transcribe(self, path: Path, phrases: Sequence[str]) -> list[Word]:
        pcm = pcm_16k(path)
        if not pcm:
            return []
        decoder = self.decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        words = [Word(seg.word.split("(")[0], seg.start_frame / 100, (seg.end_frame + 1) / 100)
                 for seg in (decoder.seg() or []) if not seg.word.startswith(("<", "["))
                 and not seg.word.startswith("+")]
        spotted = self._spot(pcm, [*phrases, *self.keywords])
        for hit in spotted:  # a phrase spotted replaces what full decoding made of it
            words = [w for w in words if w.end <= hit.start or w.start >= hit.end]
            parts = hit.text.split()
            step = (hit.end - hit.start) / len(parts)
            words += [Word(p, round(hit.start + i * step, 2), round(hit.start + (i + 1) * step, 2))
                      for i, p in enumerate(parts)]
        return sorted(words, key=lambda w: w.start)

    def _spot(self, pcm: bytes, phrases: Sequence[str]) -> list[Word]:
        known = sorted({p.lower().strip() for p in phrases if p.strip() and all(
            self.decoder.lookup_word(w) for w in p.lower().split())})  # in its dictionary
        if not known:
            return []
        with tempfile.NamedTemporaryFile("w", suffix=".kws", delete=False) as file:
            for phrase in known:
                file.write(f"{phrase} /{self.threshold:g}/\n")
        try:
            spotter = self._ps.Decoder(samprate=16000, kws=file.name, loglevel="FATAL")
            spotter.start_utt()
            spotter.process_raw(pcm, full_utt=True)  # whole: spots more than streamed
            spotter.end_utt()
            return [Word(seg.word.strip(), seg.start_frame / 100, (seg.end_frame + 1) / 100)
                    for seg in (spotter.seg() or [])]
        finally:
            os.unlink(file.name)


class Vosk:
    """Kaldi models from alphacephei.com/vosk/models (e.g. vosk-model-ru-0.42,
    vosk-model-small-ru-0.22, vosk-model-en-us-0.22)."""

    def __init__(self, spec: EngineSpec) -> None:
        try:
            import vosk  # type: ignore[import-not-found]
        except ImportError as exc:
            raise EngineError("the vosk package is not installed (pip install vosk)") from exc
        model = spec.model_dir
        if model is None or not (model / "am").is_dir() or not (model / "conf").is_dir():
            raise EngineError(f"no Vosk model at {model} (it needs am/ and conf/): unpack one "
                              "from https://alphacephei.com/vosk/models there")
        vosk.SetLogLevel(-1)
        try:
            self.model = vosk.Model(str(model))
        except Exception as exc:  # vosk raises a bare Exception for a broken model
            raise EngineError(f"the Vosk model at {model} could not be loaded: {exc}") from exc
        self._vosk = vosk
        self.language = spec.language

    def transcribe(self, path: Path, phrases: Sequence[str]) -> list[Word]:
        pcm, rate = read_wav(path)
        recognizer = self._vosk.KaldiRecognizer(self.model, rate)
        recognizer.SetWords(True)
        words: list[Word] = []
        chunk = rate * 2 * 4  # four seconds
        for i in range(0, len(pcm), chunk):
            if recognizer.AcceptWaveform(pcm[i:i + chunk]):
                words += _vosk_words(recognizer.Result())
        words += _vosk_words(recognizer.FinalResult())
        return words


def _vosk_words(result: str) -> list[Word]:
    return [Word(w["word"], float(w["start"]), float(w["end"]))
            for w in json.loads(result).get("result", [])]


class FasterWhisper:
    """CTranslate2 Whisper models (e.g. Systran/faster-whisper-small, -medium), run on the
    CPU with int8 weights."""

    def __init__(self, spec: EngineSpec) -> None:
        try:
            from faster_whisper import WhisperModel  # type: ignore[import-not-found]
        except ImportError as exc:
            raise EngineError("faster-whisper is not installed (pip install faster-whisper)"
                              ) from exc
        model = spec.model_dir
        if model is None or not (model / "model.bin").is_file():
            raise EngineError(f"no faster-whisper model at {model} (it needs model.bin)")
        try:
            self.model = WhisperModel(str(model), device="cpu", compute_type="int8",
                                      cpu_threads=1, local_files_only=True)
        except Exception as exc:
            raise EngineError(f"the faster-whisper model at {model} could not be loaded: {exc}"
                              ) from exc
        self.language = spec.language

    def transcribe(self, path: Path, phrases: Sequence[str]) -> list[Word]:
        segments, _info = self.model.transcribe(str(path), language=self.language,
                                                word_timestamps=True, vad_filter=True)
        return [Word(w.word.strip(), float(w.start), float(w.end))
                for segment in segments for w in (segment.words or [])]


_KINDS: dict[str, type] = {"pocketsphinx": PocketSphinx, "vosk": Vosk,
                           "faster-whisper": FasterWhisper}


def load_engine(spec: EngineSpec) -> Engine:
    """The engine the spec names, loaded; `EngineError` saying why not."""
    kind = _KINDS.get(spec.kind)
    if kind is None:
        raise EngineError(f"unknown speech engine {spec.kind!r} (one of {', '.join(ENGINES)})")
    if spec.model_dir is not None and not spec.model_dir.is_dir():
        raise EngineError(f"the speech model directory {spec.model_dir} does not exist")
    return kind(spec)  # type: ignore[no-any-return]


# -- in a worker process ------------------------------------------------------------------

_loaded: dict[EngineSpec, Engine] = {}


def _engine(spec: EngineSpec) -> Engine:
    if spec not in _loaded:
        _loaded[spec] = load_engine(spec)
    return _loaded[spec]


@dataclass(frozen=True)
class TrackWords:
    speaker: str
    language: str
    words: list[Word]
    seconds: float


def probe(spec: EngineSpec) -> str:
    """Loads the engine and runs it on half a second of silence: a broken model says so at
    start-up, not on the first call. Returns the engine's language."""
    engine = _engine(spec)
    with tempfile.TemporaryDirectory() as folder:
        silence = Path(folder) / "silence.wav"
        with wave.open(str(silence), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(bytes(8000))
        engine.transcribe(silence, ())
    return engine.language


def transcribe(spec: EngineSpec, recording: str, phrases: Sequence[str]) -> list[TrackWords]:
    """The words of each speaker's track of a recording (in a worker process); a recording
    made before tracks existed is transcribed whole, its speaker "mixed"."""
    tracks = [(speaker, path) for speaker, path in track_paths(recording).items()
              if path.is_file()]
    if not tracks:
        if not Path(recording).is_file():
            raise EngineError("the recording file is gone")
        tracks = [("mixed", Path(recording))]
    engine = _engine(spec)
    found = []
    for speaker, path in tracks:
        found.append(TrackWords(speaker, engine.language, engine.transcribe(path, phrases),
                                _seconds(path)))
    return found


def _seconds(path: Path) -> float:
    """The WAV's length from its header (the engine has read the audio itself)."""
    try:
        with wave.open(str(path)) as wav:
            return round(wav.getnframes() / wav.getframerate(), 3)
    except (wave.Error, EOFError, ZeroDivisionError) as exc:
        raise EngineError(f"{path.name}: unreadable WAV ({exc})") from exc
