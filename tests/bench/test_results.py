"""make bench writes its printed tables, dated, into bench/RESULTS.md's latest-run block."""

from __future__ import annotations

import os

import pytest

from bench.results import BEGIN, END, machine, recorded, with_run


def test_a_run_is_added_after_the_title_then_replaced_and_the_notes_kept():
    notes = "# Benchmarks\n\nDated notes, by hand.\n"
    first = with_run(notes, "kinefake bench, 2026-12-06\nrow 1\n")
    assert first.startswith("# Benchmarks\n\n" + BEGIN) and first.endswith("Dated notes, by hand.\n")
    second = with_run(first, "kinefake bench, 2026-12-07\nrow 2\n")
    assert "row 2" in second and "row 1" not in second
    assert second.count(BEGIN) == second.count(END) == 1 and second.endswith("Dated notes, by hand.\n")
    with pytest.raises(ValueError, match="end of the latest run"):
        with_run(BEGIN + "\nno end marker", "x")


def test_recorded_prints_and_writes_what_it_printed(tmp_path, capsys):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmarks\n\nold notes\n")
    with recorded(path):
        print("kinefake bench, a table")
    assert "kinefake bench, a table" in capsys.readouterr().out
    text = path.read_text()
    assert "```\nkinefake bench, a table\n```" in text and text.endswith("old notes\n")
    assert not (tmp_path / "RESULTS.md.part").exists()


def test_a_failed_run_leaves_the_results_as_they_were(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmarks\n")
    with pytest.raises(RuntimeError), recorded(path):
        print("half a table")
        raise RuntimeError("stage failed")
    assert path.read_text() == "# Benchmarks\n"


def test_the_machine_names_its_cores():
    assert f"{os.cpu_count()} cores" in machine()
