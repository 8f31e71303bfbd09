"""scripts/gpu_net_probe.py (the GPU check's network-alone probe) runs on the CPU too: one line per precision,
each naming the device and a positive rate."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_probe_reports_a_rate_per_precision(capsys):
    spec = importlib.util.spec_from_file_location("gpu_net_probe", ROOT / "scripts" / "gpu_net_probe.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--batch", "2", "--seconds", "0.05"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [ln.split()[1] for ln in lines]
    assert names == (["float32", "float16", "bfloat16"] if lines[0].startswith("cuda") else ["float32", "bfloat16"])
    for ln in lines:
        m = re.match(r"(cpu|cuda\S*) (float32|float16|bfloat16) batch 2: (\d+) frames/s", ln)
        assert m and int(m.group(3)) > 0, ln
