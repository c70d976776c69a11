"""The terminal demo runs its queue to the end and writes complete CSV files."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from pybirch.cli.main import cli


def test_demo_writes_every_point_of_both_scans(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--fast", "--output", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "IV sweep" in result.output
    iv = pd.read_csv(tmp_path / "IV_sweep_Multimeter.csv", comment="#")
    assert len(iv) == 101
    assert list(iv.columns) == [
        "voltage (V)",
        "current (A)",
        "Current Source current (A)",
        "point_index",
        "timestamp",
    ]
    # The multimeter reads the I-V of the current the source sets: monotonic, odd-ish.
    assert iv["voltage (V)"].is_monotonic_increasing
    assert iv["voltage (V)"].iloc[0] < 0 < iv["voltage (V)"].iloc[-1]
    lockin = pd.read_csv(tmp_path / "Lock-in_map_Lock-in.csv", comment="#")
    assert len(lockin) == 11 * 11
    assert lockin["R (V)"].std() > 0  # the map has structure
    assert lockin["point_index"].tolist() == list(range(121))
    with open(tmp_path / "IV_sweep_Multimeter.csv") as handle:
        assert handle.readline() == "# project: Demo\n"


def test_cli_help_lists_the_demo():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output
