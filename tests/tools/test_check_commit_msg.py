"""The commit-message rule the pre-commit hook enforces."""

import importlib.util
import pathlib

_PATH = pathlib.Path(__file__).resolve().parents[2] / "tools" / "check_commit_msg.py"
_spec = importlib.util.spec_from_file_location("check_commit_msg", _PATH)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def test_a_good_message_passes():
    assert check.problems("models: split the executor out of Model\n\nWhy and what was measured.\n") == []


def test_long_subjects_missing_areas_and_glued_bodies_are_reported():
    assert "at most 72 characters, got 80" in check.problems("models: " + "x" * 72)[0]
    assert "'area: summary'" in check.problems("Split the executor out of Model")[0]
    assert "blank line" in check.problems("models: split\nbody right away")[0]


def test_merges_git_writes_are_left_alone():
    assert check.problems("Merge branch 'core' into main") == []
