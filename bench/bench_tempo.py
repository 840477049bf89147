"""Beat tracker benchmark: tempo accuracy and speed against a plain-autocorrelation baseline.

Usage:
    bash ../shared/data/fetch_training_audio.sh bench/results/train_audio   # once; never commit the audio
    .venv/bin/python bench/bench_tempo.py [--train-audio DIR] [--renders 40] [--json out.json]

Sets (each file is run through both estimators in the same process):
- ``rendered``: drum patterns played from the real one-shot samples of the training audio
  (Sonic Pi's kicks, snares, hats, toms) at random tempi 60..180 BPM: the tempo is known exactly;
- ``named``: loops whose file name carries the tempo (``..._97.flac``, ``..._120bpm...``);
- ``whole-bar``: loops whose tempo follows from their length (a seamless loop of whole 4/4 bars;
  the bar count is given below per file);
- ``loops``/``music`` without ground truth: the share of loops whose estimate puts a whole number of
  beats in the loop (within 0.1 beat), and speed on the first 60 s of game-music tracks.

Accuracy is "acc4" (within 4 % of the truth) and "acc4-octave" (within 4 % after a factor of
1/2, 2, 1/3 or 3, the usual octave/metrical tolerance). Speed is seconds of audio per second
of compute. The baseline is the peak of the plain autocorrelation of the same onset envelope
in 60..200 BPM (no comb, no prior, no beat DP). With ``--with-librosa DIR`` (librosa installed
outside the project, e.g. ``pip install --target DIR librosa``), librosa's beat tracker runs too,
as an outside reference; it is never a dependency.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/common.py: shared paths and helpers)
sys.path.insert(0, str(ROOT / "src"))

from latentmorph.audio import load  # noqa: E402
from latentmorph.diffusion.features.tempo import onset_strength, track_beats  # noqa: E402

SHARED = common.SHARED

#: Loops whose length holds a known number of 4/4 bars (listened to and counted).
WHOLE_BARS = {"loop_amen_full": 4, "loop_amen": 1, "dev_src_drums_amen": 4}

SAMPLE_SETS = {
    "kick": ["bd_808", "bd_haus", "bd_klub", "bd_tek", "drum_heavy_kick", "drum_bass_hard", "bd_fat"],
    "snare": ["drum_snare_hard", "drum_snare_soft", "elec_snare", "elec_hi_snare", "sn_dolf", "sn_zome"],
    "hat": ["drum_cymbal_closed", "drum_cymbal_pedal", "elec_tick", "hat_bdu", "hat_cab"],
    "tom": ["drum_tom_hi_hard", "drum_tom_mid_soft", "drum_tom_lo_hard"],
}


def baseline_bpm(wave: np.ndarray, sr: int, lo: float = 60.0, hi: float = 200.0) -> float:
    """Plain autocorrelation peak of the onset envelope within [lo, hi] BPM."""
    onsets = onset_strength(wave, sr)
    if onsets is None:
        return float("nan")
    env = onsets.env - onsets.env.mean()
    n = env.shape[0]
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(env, size)
    ac = np.fft.irfft(spec.real**2 + spec.imag**2, size)[:n]
    lags = np.arange(n)
    ok = (lags >= 60.0 * onsets.frame_rate / hi) & (lags <= 60.0 * onsets.frame_rate / lo)
    if not ok.any():
        return float("nan")
    best = lags[ok][int(np.argmax(ac[ok]))]
    return 60.0 * onsets.frame_rate / best


def ours_bpm(wave: np.ndarray, sr: int) -> float:
    return track_beats(wave, sr).bpm  # the full tracker, beats included, so the timing is honest


def f_measure(found: np.ndarray, truth: np.ndarray, window: float = 0.07) -> float:
    """Beat F-measure: a tracked beat within +-70 ms of an unmatched true beat is a hit."""
    if found.size == 0 or truth.size == 0:
        return 0.0
    used = np.zeros(truth.size, dtype=bool)
    hits = 0
    for b in found:
        gap = np.abs(truth - b)
        gap[used] = np.inf
        j = int(np.argmin(gap))
        if gap[j] <= window:
            used[j] = True
            hits += 1
    precision, recall = hits / found.size, hits / truth.size
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def _load_mono(path: Path, seconds: float | None = None) -> tuple[np.ndarray, int]:
    wave, sr = load(path, duration=seconds, warn_silence=False)
    return wave.mean(axis=0).astype(np.float32), sr


def render_patterns(train: Path, count: int, seed: int = 0) -> list[tuple[str, np.ndarray, int, float, np.ndarray]]:
    """Drum patterns from real one-shots at random tempi: (name, wave, sr, true bpm, true beat times)."""
    sr = 44100
    folder = train / "samples"
    bank = {}
    for role, names in SAMPLE_SETS.items():
        bank[role] = [_load_mono(folder / f"{n}.flac")[0] for n in names if (folder / f"{n}.flac").exists()]
    if not all(bank.values()):
        return []
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        bpm = float(rng.uniform(60.0, 180.0))
        seconds = 12.0
        beat = 60.0 / bpm
        wave = np.zeros(int(seconds * sr) + sr, dtype=np.float32)
        kick, snare, hat = (bank[r][int(rng.integers(len(bank[r])))] for r in ("kick", "snare", "hat"))
        tom = bank["tom"][int(rng.integers(len(bank["tom"])))]
        style = k % 4  # rock backbeat, four-on-the-floor, half-time, syncopated with 16th hats
        sub = 4 if style == 3 else 2  # hats per beat
        t0 = float(rng.uniform(0.0, beat))
        n_beats = int((seconds - t0) / beat)
        for b in range(n_beats):
            at = t0 + b * beat
            hits = []
            if style == 0:
                hits.append(kick if b % 2 == 0 else snare)
            elif style == 1:
                hits.append(kick)
                if b % 2 == 1:
                    hits.append(snare)
            elif style == 2:
                hits.append(kick if b % 4 == 0 else (snare if b % 4 == 2 else None))
            else:
                hits.append(kick if b % 4 in (0, 3) else snare if b % 4 == 1 else None)
                if b % 4 == 3:
                    hits.append(("late", kick))
            for h in hits:
                if h is None:
                    continue
                shift = 0.0
                if isinstance(h, tuple):
                    shift, h = beat * 0.5, h[1]
                i = int((at + shift) * sr)
                gain = float(rng.uniform(0.7, 1.0))
                wave[i : i + h.shape[0]] += gain * h[: wave.shape[0] - i]
            for s in range(sub):
                i = int((at + s * beat / sub) * sr)
                wave[i : i + hat.shape[0]] += float(rng.uniform(0.2, 0.45)) * hat[: wave.shape[0] - i]
            if b % 8 == 7:
                i = int((at + 0.5 * beat) * sr)
                wave[i : i + tom.shape[0]] += 0.6 * tom[: wave.shape[0] - i]
        wave = wave[: int(seconds * sr)]
        wave /= max(1e-6, float(np.abs(wave).max())) * 1.25
        out.append((f"render{k:02d}_style{style}", wave, sr, bpm, t0 + beat * np.arange(n_beats)))
    return out


def named_bpm(name: str) -> float | None:
    m = re.search(r"(?:^|[_\-\s])(\d{2,3})(?:\s?bpm)?(?:$|[_\-\s.])", name, flags=re.I)
    if m and 40 <= int(m.group(1)) <= 250:
        return float(m.group(1))
    return None


def _timed(fn, wave, sr):
    t = time.perf_counter()
    bpm = fn(wave, sr)
    return bpm, time.perf_counter() - t


def _close(est: float, truth: float, octave: bool) -> bool:
    if not np.isfinite(est):
        return False
    factors = (1.0, 0.5, 2.0, 1 / 3, 3.0) if octave else (1.0,)
    return min(abs(est * f - truth) / truth for f in factors) <= 0.04


def librosa_estimator(folder: Path | None):
    """librosa's beat tracker as an outside reference, when importable (never a dependency)."""
    if folder is not None:
        sys.path.append(str(folder))  # after our site-packages: our numpy/scipy stay in charge
    try:
        import librosa
    except ImportError:
        return None

    def bpm(wave: np.ndarray, sr: int) -> float:
        tempo, _ = librosa.beat.beat_track(y=np.asarray(wave, dtype=np.float32), sr=sr)
        return float(np.atleast_1d(tempo)[0])

    bpm(np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32), 22050)  # JIT warm-up, untimed
    return bpm


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-audio", type=Path, default=common.TRAIN_AUDIO)
    ap.add_argument("--renders", type=int, default=40)
    ap.add_argument("--music", type=int, default=6, help="game-music tracks timed (first 60 s of each)")
    ap.add_argument("--with-librosa", type=Path, default=None, metavar="DIR",
                    help="also run librosa.beat.beat_track (from DIR, e.g. a pip --target folder) as a reference")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    estimators = {"ours": ours_bpm, "baseline": baseline_bpm}
    ref = librosa_estimator(args.with_librosa) if args.with_librosa else None
    if ref is not None:
        estimators["librosa"] = ref
    names = list(estimators)
    rows = []  # dict(set, name, truth or None, seconds, est{name: bpm}, time{name: s})

    def run(kind: str, name: str, wave: np.ndarray, sr: int, truth: float | None) -> None:
        est, spent = {}, {}
        for key, fn in estimators.items():
            est[key], spent[key] = _timed(fn, wave, sr)
        rows.append({"set": kind, "name": name, "truth": truth, "seconds": wave.shape[0] / sr, "est": est, "time": spent})

    fms = []  # (F-measure, tempo right within 4 %)
    for name, wave, sr, bpm, beats in render_patterns(args.train_audio, args.renders):
        run("rendered", name, wave, sr, bpm)
        fms.append((f_measure(track_beats(wave, sr).beats, beats), _close(rows[-1]["est"]["ours"], bpm, False)))
    loops = sorted((args.train_audio / "loops").glob("*.flac"))
    drums = sorted(SHARED.glob("dev_src_drums_*.wav"))
    for path in loops + drums:
        wave, sr = _load_mono(path)
        bars = WHOLE_BARS.get(path.stem)
        if bars is not None:
            run("whole-bar", path.stem, wave, sr, bars * 4 * 60.0 * sr / wave.shape[0])
        elif named_bpm(path.stem) is not None:
            run("named", path.stem, wave, sr, named_bpm(path.stem))
        else:
            run("loops", path.stem, wave, sr, None)
    for path in sorted((args.train_audio / "music").glob("*.ogg"))[: args.music]:
        wave, sr = _load_mono(path, seconds=60.0)
        run("music", path.stem, wave, sr, None)

    print(f"{'set':10} {'file':28} {'truth':>7} " + " ".join(f"{n:>8}" for n in names))
    for r in rows:
        truth = f"{r['truth']:7.1f}" if r["truth"] is not None else f"{'-':>7}"
        print(f"{r['set']:10} {r['name'][:28]:28} {truth} " + " ".join(f"{r['est'][n]:8.1f}" for n in names))

    summary = {}
    print("\naccuracy (share of files)           " + " ".join(f"{n:>8}" for n in names))
    labelled = [r for r in rows if r["truth"] is not None]
    for label, sel in (("all with ground truth", lambda r: True), ("rendered", lambda r: r["set"] == "rendered"),
                       ("loops (named/whole-bar)", lambda r: r["set"] != "rendered")):
        chosen = [r for r in labelled if sel(r)]
        if not chosen:
            continue
        for octave in (False, True):
            key = f"{label} acc4{'-octave' if octave else ''}"
            acc = {n: float(np.mean([_close(r["est"][n], r["truth"], octave) for r in chosen])) for n in names}
            summary[key] = {**acc, "n": len(chosen)}
            print(f"  {key:34} " + " ".join(f"{acc[n]:8.2f}" for n in names) + f"   (n={len(chosen)})")
    if fms:
        f = np.array(fms, dtype=float)
        summary["rendered beat F-measure"] = {"all": float(f[:, 0].mean()), "tempo right": float(f[f[:, 1] > 0, 0].mean())}
        print(f"  rendered beat F-measure (+-70 ms), ours: {f[:, 0].mean():.2f} over all, "
              f"{f[f[:, 1] > 0, 0].mean():.2f} where the tempo is right")
    unlabelled = [r for r in rows if r["set"] == "loops"]
    if unlabelled:
        def whole(bpm, secs):
            beats = bpm * secs / 60.0
            return bool(np.isfinite(beats) and abs(beats - round(beats)) <= 0.1)
        acc = {n: float(np.mean([whole(r["est"][n], r["seconds"]) for r in unlabelled])) for n in names}
        summary["unlabelled loops whole-beat"] = {**acc, "n": len(unlabelled)}
        print(f"  {'unlabelled loops: whole beats':34} " + " ".join(f"{acc[n]:8.2f}" for n in names) + f"   (n={len(unlabelled)})")
    if "librosa" in names:
        agree = np.mean([_close(r["est"]["ours"], r["est"]["librosa"], False) for r in rows])
        summary["ours agrees with librosa (4 %)"] = float(agree)
        print(f"  ours within 4 % of librosa on all {len(rows)} files: {agree:.2f}")

    audio = sum(r["seconds"] for r in rows)
    spent = {n: sum(r["time"][n] for r in rows) for n in names}
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    print(f"\nspeed over {audio:.0f} s of audio (load {' '.join(load)}):")
    for n in names:
        print(f"  {n:9} {audio / spent[n]:8.0f} x real time" + ("  (beats included)" if n != "baseline" else ""))
    print("  time relative to the baseline: " + ", ".join(f"{n} {spent[n] / spent['baseline']:.2f}" for n in names))
    summary["speed"] = {"audio_s": audio, **{f"{n}_x_realtime": audio / spent[n] for n in names}, "load": load}
    if args.json:
        from latentmorph.atomic import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(summary, indent=2).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
