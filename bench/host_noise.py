"""How steady is this host? The control for a soak's frame times: the same pacing as mg-live's frame loop
(sleep in 2 ms naps until the next 20 ms frame is due, then work), but a fixed piece of host work with no
MLX and no device: small numpy arrays and Python, about as long as a GPU frame's dispatch. Whatever
spread its times show is the machine's own: a frame loop on this host cannot be steadier.

    python bench/host_noise.py --minutes 3
    # beside a soak, in another process, then: was the host slow when the slowest frames were?
    python bench/host_noise.py --minutes 8 --save noise.npy &  python bench/soak.py ... --save frames.npy
    python bench/host_noise.py --compare frames.npy noise.npy
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def work(loops: int) -> float:
    """A fixed piece of host work: index arithmetic on small arrays, as a frame's bookkeeping does."""
    total = 0.0
    for i in range(loops):
        frames = i + np.arange(4)[:, None] - np.arange(3)[None, :]
        total += float(np.where(frames < 0, -1, frames % 64).sum())
    return total


def timed(loops: int) -> float:
    start = time.perf_counter()
    work(loops)
    return (time.perf_counter() - start) * 1000


def calibrate(target_ms: float) -> int:
    """Loops that take about `target_ms` run back to back (paced, after a nap, they take longer)."""
    loops = 64
    return max(1, round(loops * target_ms / min(timed(loops) for _ in range(20))))


def spread(ms: np.ndarray) -> str:
    median = np.median(ms)
    return (f"median {median:.2f} ms, p99 {np.percentile(ms, 99):.2f} ({np.percentile(ms, 99) / median:.2f}×), "
            f"p99.9 {np.percentile(ms, 99.9):.2f} ({np.percentile(ms, 99.9) / median:.2f}×), worst {ms.max():.2f} "
            f"({ms.max() / median:.2f}×)")


def play(minutes: float, work_ms: float, period_ms: float) -> np.ndarray:
    """[runs, 2]: (time.monotonic() at the start, ms) of each paced run of the fixed work."""
    loops = calibrate(work_ms)
    runs, due, end = [], time.monotonic(), time.monotonic() + minutes * 60
    while due < end:
        due += period_ms / 1000
        while time.monotonic() < due:  # as mg-live's Sink.wait_for_room: 2 ms naps
            time.sleep(0.002)
        runs.append((time.monotonic(), timed(loops)))
    return np.array(runs[50:])  # the first second warms up


def compare(frames: np.ndarray, noise: np.ndarray, slowest: int = 12) -> None:
    """For the slowest frames a soak saved (when, ms, building), the control's runs within 50 ms of each."""
    median = np.median(noise[:, 1])
    print(f"control: {spread(noise[:, 1])}; frames: median {np.median(frames[:, 1]):.2f} ms")
    print("slowest frames (ms, B building a context) → the control's slowest run within 50 ms, against its median:")
    for when, ms, building in frames[np.argsort(frames[:, 1])[::-1][:slowest]]:
        near = noise[np.abs(noise[:, 0] - when) < 0.05, 1]
        print(f"  {ms:.2f}{'B' if building else ''} → " + (f"{near.max() / median:.2f}×" if len(near) else "none ran"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.2)
    parser.add_argument("--work-ms", type=float, default=1.5, help="how long the fixed work takes back to back")
    parser.add_argument("--period-ms", type=float, default=20.0, help="one frame of audio")
    parser.add_argument("--save", help="where to keep each run's (time, ms), a .npy file")
    parser.add_argument("--compare", nargs=2, metavar=("FRAMES", "NOISE"),
                        help="a soak's saved frames and a control saved beside it: nothing is played")
    args = parser.parse_args()
    if args.compare:
        compare(*(np.load(path) for path in args.compare))
        return
    runs = play(args.minutes, args.work_ms, args.period_ms)
    if args.save:
        np.save(args.save, runs)
    print(f"host noise: {len(runs)} paced runs of fixed work, {spread(runs[:, 1])}")


if __name__ == "__main__":
    main()
