"""Installing mg-live claims one import name, `mg_live`: no generic top-level `engine` or `live` that would
collide with another project's."""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pip_install_exposes_only_mg_live(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("mg_live-*.whl"))
    top = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in top if not t.endswith(".dist-info")} == {"mg_live"}
    venv.create(tmp_path / "fresh", with_pip=True)
    python = tmp_path / "fresh" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    probe = ("import importlib.util as u; print([n for n in ('engine', 'live', 'mg_live.engine', 'mg_live.live') "
             "if u.find_spec(n)])")
    found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert found.stdout.strip() == "['mg_live.engine', 'mg_live.live']", found.stderr


def test_the_engine_turns_mlx_cuda_graphs_off_unless_the_user_chose():
    """Recording CUDA graphs made our frames' slow tail (engine/__init__.py); a user's own setting wins."""
    probe = "import mg_live.engine, os; print(os.environ['MLX_USE_CUDA_GRAPHS'])"
    for preset, expected in ((None, "0"), ("1", "1")):
        env = {k: v for k, v in os.environ.items() if k != "MLX_USE_CUDA_GRAPHS"}
        if preset is not None:
            env["MLX_USE_CUDA_GRAPHS"] = preset
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
        assert out.stdout.strip() == expected, out.stderr
