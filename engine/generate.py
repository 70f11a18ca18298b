"""`mg-generate`: offline text-to-music to a WAV/FLAC file."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from .generation import codes_from_audio, decode_audio, generate_codes
from .cli import Parser, add_model_arguments, add_sampling_arguments, positive, sampling_from
from .loading import load
from .weights import CheckpointError

def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Any file soundfile reads → float32 [channels, samples] and its rate."""
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return audio.T, rate


def write_audio(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """audio [channels, samples] float32 → WAV/FLAC (format from the extension)."""
    import soundfile as sf

    subtype = "PCM_24" if path.suffix.lower() == ".flac" else "FLOAT"
    sf.write(str(path), audio.T, sample_rate, subtype=subtype)  # PCM subtypes clip, FLOAT keeps all


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="mg-generate", description="Generate music from a text prompt.")
    add_model_arguments(parser)
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--seconds", type=positive(), default=10.0,
                        help="seconds of new music (beyond 30 s the context restarts every --extend-stride seconds)")
    parser.add_argument("--continue", dest="continue_from", type=Path,
                        help="continue this recording (the output starts with it)")
    parser.add_argument("--melody", type=Path, help="melody models: follow this recording's melody (chroma)")
    parser.add_argument("--extend-stride", type=float, default=18.0,
                        help="past 30 s: seconds generated per context; the next starts from the last 30 − stride")
    parser.add_argument("--out", type=Path, required=True, help="output .wav or .flac")
    parser.add_argument("--codes-out", type=Path, help="save codes (batch, codebooks, frames) as .npy")
    add_sampling_arguments(parser)
    args = parser.parse_args(argv)

    if args.out.suffix.lower() not in (".wav", ".flac"):
        parser.error("--out must end in .wav or .flac")
    if not 0 < args.extend_stride < 30:
        parser.error("--extend-stride must be between 0 and 30 seconds")
    try:
        loaded = load(args.model, args.dtype or "float32", args.quantize)
    except CheckpointError as e:
        print(f"mg-generate: {e}", file=sys.stderr)
        return 2

    from tqdm import tqdm

    prompt_codes = None
    if args.continue_from:
        try:
            prompt_codes = codes_from_audio(loaded.model, *read_audio(args.continue_from))
        except (OSError, RuntimeError) as e:
            print(f"mg-generate: {args.continue_from}: cannot read audio ({e})", file=sys.stderr)
            return 2
    melody = None
    if args.melody:
        if not loaded.config.is_melody:
            print(f"mg-generate: {args.model} is not a melody model (try facebook/musicgen-melody)", file=sys.stderr)
            return 2
        from .chroma import Melody

        try:
            melody = Melody.from_recording(*read_audio(args.melody))
        except (OSError, RuntimeError) as e:
            print(f"mg-generate: {args.melody}: cannot read audio ({e})", file=sys.stderr)
            return 2
    frames = max(1, round(args.seconds * loaded.config.frames_per_second))
    start = time.perf_counter()
    with tqdm(total=frames, unit="frame", desc="generating", file=sys.stderr) as bar:
        codes = generate_codes(loaded.model, loaded.tokenizer, args.prompt, frames, sampling_from(args),
                               seed=args.seed, progress=bar.update, prompt_codes=prompt_codes,
                               extend_stride=args.extend_stride, melody=melody)
    audio = decode_audio(loaded.model, codes)[0]
    elapsed = time.perf_counter() - start
    write_audio(args.out, audio, loaded.config.sample_rate)
    if args.codes_out:
        np.save(args.codes_out, codes)
    seconds = audio.shape[-1] / loaded.config.sample_rate
    print(f"wrote {args.out}: {seconds:.2f} s, {audio.shape[0]} channel(s), {loaded.config.sample_rate} Hz "
          f"in {elapsed:.1f} s ({seconds / elapsed:.2f}x real time)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
