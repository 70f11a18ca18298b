import os

# MLX's CUDA backend records kernels into CUDA graphs by default. For our few-kernel decoder step and the
# codec's small calls on a second stream, recording them cost more host time than it saved, and it
# made the slow tail: on an H200 (medium, paced, no OSC) p99 frame 4.79 → 2.64 ms and worst while a
# context was built 7.17 → 4.21 ms without them; streaming 4.90 → 3.57 ms per frame. Read once, at
# MLX's first GPU work; a value set by the user wins. Other backends ignore it.
os.environ.setdefault("MLX_USE_CUDA_GRAPHS", "0")
