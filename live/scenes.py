"""Scenes: what plays (prompts, blend slots, negative prompt, sampling, melody, window) kept under a number
and recalled later, morphing to it. Kept in a TOML file, written whole (to a temporary file, then renamed)
on every save so that a crash never leaves half a file; `--scenes FILE` brings them back."""

from __future__ import annotations

import os
import threading
import tomllib
from pathlib import Path

import tomli_w

from .params import BY_NAME, SCENES, SLOTS

KEYS = ("prompt", "negative", "slots", "cfg", "temperature", "top_k", "top_p", "window", "melody")


def check_scene(n: int, scene: dict) -> dict:
    """A scene as a file gives it → as the engine takes it, or ValueError naming what is wrong."""
    if not isinstance(scene, dict) or not isinstance(scene.get("prompt"), str):
        raise ValueError(f"scene {n}: needs a prompt")
    unknown = set(scene) - set(KEYS)
    if unknown:
        raise ValueError(f"scene {n}: unknown setting {sorted(unknown)[0]!r}")
    out = {"prompt": scene["prompt"], "negative": str(scene.get("negative", ""))}
    for name in ("cfg", "temperature", "top_k", "top_p", "window"):
        if name in scene:
            out[name] = BY_NAME[name].check(scene[name])
    slots = {}
    for key, value in scene.get("slots", {}).items():
        if not (key.isdigit() and 1 <= int(key) <= SLOTS and isinstance(value, list) and len(value) == 2):
            raise ValueError(f"scene {n}: slot {key!r} is not a slot 1–{SLOTS} with [prompt, weight]")
        slots[key] = [str(value[0]), BY_NAME["slot_weight"].check(value[1])]
    out["slots"] = slots
    if "melody" in scene:
        melody = scene["melody"]
        if not (isinstance(melody, str) or (isinstance(melody, list) and all(isinstance(p, int) for p in melody))):
            raise ValueError(f"scene {n}: melody is a recording's path or a list of pitch classes")
        out["melody"] = melody
    return out


class Scenes:
    """Numbered scenes 1–SCENES, saved to `path` (thread-safe: OSC, MIDI and the console save and recall)."""

    def __init__(self, path: Path):
        self.path, self.scenes, self._lock = path, {}, threading.Lock()

    @classmethod
    def load(cls, path: Path) -> "Scenes":
        """The scenes of `path` (none if it does not exist yet), or ValueError in one line."""
        scenes = cls(path)
        if not path.exists():
            return scenes
        try:
            raw = tomllib.loads(path.read_text())
            for key, scene in raw.get("scene", {}).items():
                if not (key.isdigit() and 1 <= int(key) <= SCENES):
                    raise ValueError(f"scene {key!r}: scenes are numbered 1–{SCENES}")
                scenes.scenes[int(key)] = check_scene(int(key), scene)
        except (OSError, tomllib.TOMLDecodeError, ValueError, AttributeError) as e:
            raise ValueError(f"{path}: not a scenes file ({e})") from None
        return scenes

    def get(self, n: int) -> dict | None:
        return self.scenes.get(n)

    def save(self, n: int, scene: dict) -> None:
        """Keep `scene` as number `n` and write the file (OSError if it cannot be written: the scene is
        kept in memory all the same)."""
        with self._lock:
            self.scenes[n] = scene
            text = tomli_w.dumps({"scene": {str(k): v for k, v in sorted(self.scenes.items())}})
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(text)
            os.replace(temporary, self.path)
