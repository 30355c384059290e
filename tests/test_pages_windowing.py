"""The window/level presets of the explorer's pictures (explorer.pages.windowing)."""

from django.http import QueryDict

from explorer.pages.windowing import FROM_THE_FILE, PRESETS, chosen_preset, page_link


def test_each_preset_is_a_query_of_the_rendered_route():
    queries = {preset.key: preset.query for preset in PRESETS}
    assert queries == {
        "file": "",
        "soft-tissue": "&window-center=40&window-width=400",
        "lung": "&window-center=-600&window-width=1500",
        "bone": "&window-center=300&window-width=2000",
        "brain": "&window-center=40&window-width=80",
        "full-range": "&full-range",
    }
    assert PRESETS[0] is FROM_THE_FILE


def test_a_page_chooses_its_preset_by_name():
    assert chosen_preset(QueryDict("window=lung")).key == "lung"
    assert chosen_preset(QueryDict("window=nothing")) is FROM_THE_FILE
    assert chosen_preset(QueryDict("")) is FROM_THE_FILE


def test_links_keep_the_preset_but_the_default():
    lung = chosen_preset({"window": "lung"})
    assert page_link("/ui/instances/x", lung) == "/ui/instances/x?window=lung"
    assert page_link("/ui/instances/x", FROM_THE_FILE) == "/ui/instances/x"
