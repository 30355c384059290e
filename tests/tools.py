"""Programs the tests run that pip does not install: DCMTK's tools, Debian's Chromium, npm.

A test that needs one says so with `@needs_tool("storescu")` (or calls `require_tool` from a
fixture or helper). When the program is missing the test is skipped with the reason on a
developer's machine, and fails under CI (the environment variable CI set to a true value), where
a missing program means a broken CI image, never a promise left unchecked.
"""

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
PACKAGES = {
    "chromium": "chromium",
    CHROMIUM: "chromium",
    "openssl": "openssl",
    "gdcminfo": "libgdcm-tools",
    "gdcmconv": "libgdcm-tools",
    "/usr/sbin/Orthanc": "orthanc",
    "npm": "npm",
}
# any other tool comes from dcmtk


def under_ci():
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def require_tool(tool):
    """Return the tool's path; skip the test without it, or fail it under CI."""
    path = shutil.which(tool)
    if path:
        return path
    package = PACKAGES.get(tool, "dcmtk")
    message = f"{tool} is not installed (Debian package {package})"
    if under_ci():
        pytest.fail(f"{message}: CI must install it (.ci/run)", pytrace=False)
    pytest.skip(message)


def needs_tool(*tools):
    """Mark a test, a class or a module (pytestmark) as running these programs."""
    return pytest.mark.needs_tool(*tools)


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_tool(*tools): the test runs these programs (tests/tools.py)")


def pytest_runtest_setup(item):
    for marker in item.iter_markers("needs_tool"):
        for tool in marker.args:
            require_tool(tool)
