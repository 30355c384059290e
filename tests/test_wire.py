"""The seams (dicomnet/wire/, explorer/pydicom_compat.py, explorer/web_worker.py): each says
which private names of its library it uses, and no other module uses them."""

import io
import re
import tokenize
from pathlib import Path

import pytest

from dicomnet import wire
from explorer import pydicom_compat, web_worker

ROOT = Path(__file__).resolve().parent.parent
SEAMS = {
    **{f"dicomnet/wire/{name}.py": names for name, names in wire.private_names().items()},
    "explorer/pydicom_compat.py": pydicom_compat.PRIVATE_NAMES,
    "explorer/web_worker.py": web_worker.PRIVATE_NAMES,
}


@pytest.mark.parametrize("path", sorted(SEAMS))
def test_each_seam_names_its_private_names_in_its_docstring(path):
    source = (ROOT / path).read_text()
    docstring = source.split('"""')[1]
    for name in SEAMS[path]:
        assert name in docstring, f"{path} does not say why it uses {name}"
        assert re.search(rf"\b{name}\b", source.split('"""', 2)[2]), f"{path} lists {name} but does not use it"


def names_in_code(path):
    """The names a module's code uses (not its comments and strings)."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return {token.string for token in tokens if token.type == tokenize.NAME}


def test_no_module_outside_the_seams_uses_their_private_names():
    names = {name for listed in SEAMS.values() for name in listed}
    found = set()
    for path in sorted((ROOT / "dicomnet").rglob("*.py")) + sorted((ROOT / "explorer").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative in SEAMS or relative.startswith("dicomnet/wire/"):
            continue
        found |= {(relative, name) for name in names_in_code(path) & names}
    assert found == set()
