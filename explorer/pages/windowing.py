"""Window/level presets of the explorer's pictures (the instance preview, the series viewer):
each is the query of the instance's /rendered route that draws it, chosen on a page by
?window=<key> and kept from link to link while the user steps through a series."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    center: float | None = None
    width: float | None = None
    full_range: bool = False

    @property
    def query(self):
        """What the preset adds to a /rendered URL that already has a query ("" for the file's window)."""
        if self.full_range:
            return "&full-range"
        if self.center is None:
            return ""
        return f"&window-center={self.center:g}&window-width={self.width:g}"


FROM_THE_FILE = Preset("file", "From the file")
PRESETS = (
    FROM_THE_FILE,
    Preset("soft-tissue", "CT soft tissue (W400 L40)", 40, 400),
    Preset("lung", "Lung (W1500 L−600)", -600, 1500),
    Preset("bone", "Bone (W2000 L300)", 300, 2000),
    Preset("brain", "Brain (W80 L40)", 40, 80),
    Preset("full-range", "Full range (min to max)", full_range=True),
)
BY_KEY = {preset.key: preset for preset in PRESETS}


def chosen_preset(params):
    """The preset a page's ?window= names; the file's window for anything else."""
    return BY_KEY.get((params.get("window") or "").strip(), FROM_THE_FILE)


def window_param(preset):
    """The page parameter that keeps the preset on the next page (None for the default)."""
    return None if preset is FROM_THE_FILE else preset.key


def page_link(url, preset):
    """A link to another explorer page that keeps the preset."""
    key = window_param(preset)
    return f"{url}?window={key}" if key else url
