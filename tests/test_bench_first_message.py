"""The first-long-message benchmark runs and reports both kinds."""

import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_first_message_benchmark_reports_both_kinds_with_times():
    command = [sys.executable, "-m", "bench.first_message", "--runs", "1"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["on first use", "compiled after start-up"]
    assert re.search(r"first long message \d+ ms; the next \d+ ms$", lines[0])
    assert re.search(r"background compile took \d+ ms$", lines[1])
