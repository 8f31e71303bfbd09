"""scripts/gpu_net_probe.py (the GPU check's network-alone probe) runs on the CPU too: one line per precision,
each naming the device and a positive rate."""

from __future__ import annotations

import re

from conftest import load_script  # tests/ is on sys.path (rootdir conftest, no __init__.py)


def test_the_probe_reports_a_rate_per_precision(capsys):
    assert load_script("gpu_net_probe").main(["--batch", "2", "--seconds", "0.05"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [ln.split()[1] for ln in lines]
    assert names == (["float32", "float16", "bfloat16"] if lines[0].startswith("cuda") else ["float32", "bfloat16"])
    for ln in lines:
        m = re.match(r"(cpu|cuda\S*) (float32|float16|bfloat16) batch 2: (\d+) frames/s", ln)
        assert m and int(m.group(3)) > 0, ln
