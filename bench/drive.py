"""Drive a running mg-live over OSC on a fixed schedule: a new prompt every few seconds and guidance /
temperature changes many times a second (what the real-time acceptance run asks for).

    mg-live --model tiny --no-audio --headless --seconds 75 --buffer-ms 150 &
    python bench/drive.py --port 9000 --seconds 75 --prompt-every 4 --scalars-per-second 10
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

from pythonosc.udp_client import SimpleUDPClient

PROMPTS = ["dark techno with heavy kick", "soft jazz piano", "ambient pad with slow strings", "funk bass groove",
           "epic orchestral brass", "lofi hip hop beat"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--seconds", type=float, default=75)
    parser.add_argument("--prompt-every", type=float, default=4.0)
    parser.add_argument("--scalars-per-second", type=float, default=10.0)
    args = parser.parse_args()
    client = SimpleUDPClient(args.host, args.port)
    start = time.monotonic()
    next_prompt, sent = start + 1.0, 0
    prompts, values = itertools.cycle(PROMPTS), itertools.cycle([1.5, 3.0, 6.0, 4.5])
    while (now := time.monotonic()) - start < args.seconds:
        if now >= next_prompt:
            client.send_message("/mg/prompt", next(prompts))
            next_prompt += args.prompt_every
        else:
            client.send_message("/mg/cfg" if sent % 2 else "/mg/temperature", next(values) / (1 if sent % 2 else 4))
        sent += 1
        time.sleep(1.0 / args.scalars_per_second)
    print(f"drive: sent {sent} messages in {time.monotonic() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
