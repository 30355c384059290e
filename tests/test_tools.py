"""tests/tools.py: a missing program skips a test on a developer's machine and fails it under CI."""

import pytest

from tests.tools import needs_tool, require_tool, under_ci

MISSING = "pharos-no-such-tool"

pytest_plugins = ["pytester"]


def test_a_present_tool_gives_its_path(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert require_tool("sh").endswith("/sh")


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_a_missing_tool_skips_outside_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert not under_ci()
    with pytest.raises(pytest.skip.Exception, match=f"{MISSING} is not installed"):
        require_tool(MISSING)


@pytest.mark.parametrize("value", ["true", "1", "TRUE", "yes"])
def test_a_missing_tool_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI must install it"):
        require_tool(MISSING)


MARKED = f"""
from tests.tools import needs_tool

@needs_tool("{MISSING}")
def test_marked():
    pass
"""


@pytest.mark.parametrize("ci, outcome", [("", {"skipped": 1}), ("true", {"errors": 1})])
def test_the_marker_skips_or_fails_before_the_test_runs(pytester, monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(MARKED)
    result = pytester.runpytest_inprocess("-p", "tests.tools", "-p", "no:django")
    result.assert_outcomes(**outcome)
    assert needs_tool(MISSING).name == "needs_tool"
