"""Instance pictures, as Orthanc serves them: frames, preview, rendered, image-uint8/16.

The drawing is in explorer.previews; these views pick the frame and the options
out of the request and turn failures into Orthanc's answers: an unknown id is
404, a frame out of range is 400 ParameterOutOfRange, an instance without a
drawable image is 415 (or, with ?returnUnsupportedImage, a placeholder PNG).
"""

from django.core.cache import caches
from django.http import HttpResponse

from explorer import index, levels, previews
from explorer.api.base import NoSuchResource, flag, json_response
from explorer.errors import BadRequest, ParameterOutOfRange, PharosError

NUMBER_OF_FRAMES = "00280008"
# /rendered may scale up; this bounds the memory one request can ask for.
LARGEST_RENDERED_SIDE = 8192


class IncompatibleImageFormat(PharosError):
    http_status, orthanc_status, orthanc_error = 415, 23, "Incompatible format of the images"


# ---------------------------------------------------------------- request parsing


def _instance(public_id):
    instance = index.get(levels.INSTANCE, public_id)
    if instance is None:
        raise NoSuchResource(public_id)
    return instance


def _frame_number(text):
    if not text.isdigit():
        raise ParameterOutOfRange(f"A frame number is a whole number from 0, not {text!r}")
    return int(text)


def _number_argument(request, name, kind, low=None, high=None):
    """An optional numeric query argument, refused when it is not a number or out of bounds."""
    text = request.GET.get(name)
    if text is None or text == "":
        return None
    try:
        value = kind(text)
    except ValueError:
        raise BadRequest(f"The argument {name} must be a number, not {text!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ParameterOutOfRange(f"The argument {name} is out of range: {text}")
    return value


def _media_ranges(accept):
    """(media type, q) for each entry of an Accept header."""
    for entry in accept.split(","):
        media, *parameters = entry.split(";")
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        yield media.strip().lower(), quality


def _acceptance(ranges, media):
    """The q the client gives `media`: the most specific matching range decides."""
    kind = media.split("/")[0]
    for candidate in (media, f"{kind}/*", "*/*"):
        if candidate in ranges:
            return ranges[candidate]
    return 0.0


def _prefers_jpeg(request):
    """Orthanc answers JPEG when the client asks for it; PNG otherwise and on a tie."""
    accept = request.headers.get("Accept", "")
    if not accept:
        return False
    ranges = dict(_media_ranges(accept))
    return _acceptance(ranges, "image/jpeg") > _acceptance(ranges, "image/png")


# ---------------------------------------------------------------- answers


def _png(data):
    return HttpResponse(data, content_type="image/png")


def _quality(request):
    """?quality= (1..100, JPEG answers only); None when it is not a whole number in range.
    Orthanc checks it on every image route, whichever format is answered."""
    text = request.GET.get("quality")
    if text is None:
        return previews.JPEG_QUALITY
    text = text.strip()
    if not text.isdigit() or not 1 <= int(text) <= 100:
        return None
    return int(text)


def _picture(request, image):
    if _prefers_jpeg(request):
        return HttpResponse(previews.jpeg_bytes(image, _quality(request)), content_type="image/jpeg")
    return _png(previews.png_bytes(image))


def _unsupported(request, reason):
    """Orthanc's answer to a bad ?quality= and to image-uint8/16 of a colour image: 415 with
    an empty body; with ?returnUnsupportedImage, the placeholder (Orthanc redirects to its own)."""
    if flag(request, "returnUnsupportedImage"):
        return _png(previews.placeholder_png(reason))
    return HttpResponse(status=415)


def _answer(request, public_id, frame_text, draw, encode):
    """Draw one frame with draw(dataset, frame) and encode it, or answer as Orthanc does when that
    fails. Images are kept in the preview cache: series thumbnails are drawn once."""
    instance = _instance(public_id)
    if _quality(request) is None:
        return _unsupported(request, "The JPEG quality is a whole number from 1 to 100")
    key = f"{instance.file_uuid}:{request.get_full_path()}:{_prefers_jpeg(request)}"
    kept = caches["previews"].get(key)
    if kept is not None:
        return HttpResponse(kept[0], content_type=kept[1])
    response = _draw(request, instance, frame_text, draw, encode)
    if response.status_code == 200:
        caches["previews"].set(key, (response.content, response["Content-Type"]))
    return response


def _draw(request, instance, frame_text, draw, encode):
    frame = _frame_number(frame_text)
    try:
        image = draw(previews.load(instance), frame)
    except previews.NoSuchFrame as exc:
        raise ParameterOutOfRange(str(exc)) from exc
    except previews.NotGrayscale as exc:
        return _unsupported(request, exc.reason)
    except previews.NoImage as exc:
        if flag(request, "returnUnsupportedImage"):
            return _png(previews.placeholder_png(exc.reason))
        raise IncompatibleImageFormat(exc.reason) from exc
    return encode(image)


# ---------------------------------------------------------------- views


def frames(request, public_id):
    """GET /instances/{id}/frames: [0, 1, …] from NumberOfFrames (1 when absent, as Orthanc)."""
    element = _instance(public_id).dataset.get(NUMBER_OF_FRAMES) or {}
    try:
        count = max(int(float(element.get("Value", [1])[0])), 1)
    except (TypeError, ValueError, IndexError):
        count = 1
    return json_response(list(range(count)))


def preview(request, public_id, frame="0"):
    """GET /instances/{id}[/frames/{n}]/preview: the frame with the file's window."""
    return _answer(request, public_id, frame, previews.render_frame, lambda image: _picture(request, image))


def rendered(request, public_id, frame="0"):
    """GET …/rendered?window-center=&window-width=&width=&height=&smooth&quality=, as Orthanc;
    and Pharos's own ?full-range (the frame's value range as the window) and ?max-size=N (the
    frame scaled down to fit N × N, never up), which the explorer's previews ask for."""
    window = (
        _number_argument(request, "window-center", float),
        _number_argument(request, "window-width", float, low=1e-6),
    )
    if flag(request, "full-range"):
        window = previews.FULL_RANGE
    width = _number_argument(request, "width", int, 0, LARGEST_RENDERED_SIDE)
    height = _number_argument(request, "height", int, 0, LARGEST_RENDERED_SIDE)
    max_size = _number_argument(request, "max-size", int, 1, LARGEST_RENDERED_SIDE)
    smooth = flag(request, "smooth")

    def draw(dataset, number):
        image = previews.render_frame(dataset, number, window if window != (None, None) else None)
        if max_size:
            image = previews.fit_within(image, max_size, max_size, smooth, enlarge=False)
        return previews.fit_within(image, width, height, smooth)

    return _answer(request, public_id, frame, draw, lambda image: _picture(request, image))


def image_uint8(request, public_id, frame="0"):
    """GET …/image-uint8: stored values clipped to 0..255, no windowing."""
    return _answer(request, public_id, frame, previews.image_uint8, lambda image: _picture(request, image))


def image_uint16(request, public_id, frame="0"):
    """GET …/image-uint16: a 16-bit grayscale PNG of the stored values."""

    def encode(image):
        return _png(previews.png_bytes(image, sixteen_bit=True))

    return _answer(request, public_id, frame, previews.image_uint16, encode)
