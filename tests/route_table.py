"""The site's whole route table, walked: each route's text and a concrete path that reaches it."""

import re

from django.urls import URLPattern, URLResolver, get_resolver


def routes(patterns=None, prefix=""):
    """Every URL pattern of the site as (route text, a concrete path that reaches it)."""
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for pattern in patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, text)
        elif isinstance(pattern, URLPattern):
            yield text, "/" + concrete(text)


def concrete(text):
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "x", text)
    text = re.sub(r"<int:\w+>", "0", text)
    text = re.sub(r"<(\w+:)?\w+>", "x", text)
    return text.replace("^", "").replace("$", "").replace("\\", "")
