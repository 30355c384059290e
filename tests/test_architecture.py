"""The shape the README's "How it is built" describes, held by tests: imports go one way
(dicomnet uses explorer, never the reverse), HTML pages never borrow from the REST package,
the DICOM network reaches the database through explorer's functions, not its models."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("explorer", "dicomnet")


def modules(package):
    """The project's Python files of a package, migrations left out."""
    return sorted(path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts)


def module_name(path):
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(path):
    """Every module a file imports, absolute, with each name it takes from one
    (`from explorer import models` gives explorer and explorer.models)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def importers_of(files, forbidden):
    """{file: the forbidden modules it imports} for the files importing any module under
    one of `forbidden`."""
    breaking = {}
    for path in files:
        bad = sorted(
            name
            for name in imported_modules(path)
            if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
        )
        if bad:
            breaking[str(path.relative_to(ROOT))] = bad
    return breaking


def html_page_modules():
    """The modules that build HTML pages: views and page modules of both packages."""
    for package in PACKAGES:
        for path in modules(package):
            relative = path.relative_to(ROOT / package)
            if relative.parts[0] == "api":
                continue
            if path.stem in ("views", "pages") or "pages" in path.stem or "pages" in relative.parts[:-1]:
                yield path


def test_explorer_never_imports_dicomnet():
    assert importers_of(modules("explorer"), ("dicomnet",)) == {}


def test_html_pages_never_import_the_rest_package():
    pages = list(html_page_modules())
    assert any(path.stem == "views" for path in pages)
    assert importers_of(pages, ("explorer.api", "dicomnet.api")) == {}


def test_dicomnet_reads_the_index_through_explorer_functions():
    # explorer.models is explorer's own: dicomnet asks explorer.index and explorer.query.
    assert importers_of(modules("dicomnet"), ("explorer.models",)) == {}


def test_the_import_scan_sees_imports():
    # The rules above pass trivially if the scan finds nothing: it must see a known import.
    assert "explorer.ingest" in imported_modules(ROOT / "dicomnet" / "scp.py")
    assert "dicomnet" in {name.split(".")[0] for name in imported_modules(ROOT / "dicomnet" / "scp.py")}
