"""Rendered images and thumbnails (PS3.18 8.3.5 and 10.4.1.1.3-4) at study, series, instance
and frame level, drawn by explorer.previews, with the parameters of Orthanc's DICOMweb plugin:

- the type from Accept: JPEG by default (and for */* or image/*), PNG when preferred; an
  encapsulated PDF is answered as itself to a client that accepts application/pdf;
- `viewport=vw,vh[,sx,sy,sw,sh]`: the region (sx, sy, sw, sh) of the frame, flipped where sw or
  sh is negative, scaled (by the nearest pixel) to fit within vw × vh and centred on a black
  vw × vh image, as Orthanc does;
- `window=center,width,function` (linear, linear-exact or sigmoid); `quality=1..100`.

Without `window`, the file's own window is used (else its VOI LUT, else the frame's range), as
Pharos's other pictures; Orthanc's plugin stretches the frame's range. A series is shown by its
middle instance in slice order and a study by the middle instance of its first series (Orthanc
takes the instance of lowest Orthanc id): a thumbnail then shows the middle of the volume. A
thumbnail (which Orthanc's plugin lacks) is the rendered image, smoothly scaled, within
128 × 128 unless a viewport is given.
"""

import hashlib

from django.core.cache import caches
from django.http import HttpResponse
from PIL import Image, ImageOps

from explorer import dicom, previews, storage
from explorer.dicomweb import resources
from explorer.errors import ParameterOutOfRange, PharosError

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
THUMBNAIL_SIZE = 128
# Bounds the memory one request can ask for (a viewport may scale up).
LARGEST_SIDE = 8192
WINDOW_FUNCTIONS = {"linear": "LINEAR", "linear-exact": "LINEAR_EXACT", "sigmoid": "SIGMOID"}


class IncompatibleImageFormat(PharosError):
    http_status, orthanc_status, orthanc_error = 415, 23, "Incompatible format of the images"


class NotAcceptable(PharosError):
    http_status, orthanc_status, orthanc_error = 406, 3, "Parameter out of range"


def rendered(request, **route):
    return _answer(request, route, default_viewport=None, smooth=False)


def thumbnail(request, **route):
    return _answer(request, route, default_viewport=(THUMBNAIL_SIZE, THUMBNAIL_SIZE), smooth=True)


def _answer(request, route, default_viewport, smooth):
    options = Rendering.from_query(request.GET, default_viewport)
    options.smooth = smooth
    instance = instance_to_render(route)
    frame = _frame_number(route.get("frames"))
    holds_pdf = dicom.holds_pdf(instance.dataset)
    media = chosen_type(request.headers.get("Accept", ""), (PDF, JPEG, PNG) if holds_pdf else (JPEG, PNG))
    if media == PDF:
        return HttpResponse(dicom.encapsulated_document(storage.path_for(instance.file_uuid)), content_type=PDF)
    return HttpResponse(picture(instance, frame, options, media), content_type=media)


def instance_to_render(route):
    """The instance a route names, or the one that shows its series or study."""
    found = resources.instances_of_route(route)
    if route.get("instance") is not None:
        return found.first()
    if route.get("series") is None:
        found = found.filter(series_id=found.first().series_id)
    return found[found.count() // 2]


def _frame_number(text):
    """The frame of a route's frames/{n}, from 1, as a frame index from 0."""
    if text is None:
        return 0
    if not text.isdigit() or int(text) < 1:
        raise ParameterOutOfRange(f"Rendering takes one frame number, from 1: not {text!r}")
    return int(text) - 1


def chosen_type(accept, offered):
    """The first of `offered` media types that Accept takes with the highest quality; the first
    offered when Accept is empty; NotAcceptable when it takes none."""
    if not accept.strip():
        return offered[0]
    ranges = {}
    for entry in accept.split(","):
        media, *parameters = entry.split(";")
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.setdefault(media.strip().lower(), quality)
    best, best_quality = None, 0.0
    for media in offered:
        quality = next((ranges[r] for r in (media, media.split("/")[0] + "/*", "*/*") if r in ranges), 0.0)
        if quality > best_quality:
            best, best_quality = media, quality
    if best is None:
        raise NotAcceptable(f"Rendered images are answered as {', '.join(offered)}, not as {accept}")
    return best


def picture(instance, frame, options, media):
    """The frame drawn and encoded; kept in the preview cache (series thumbnails are asked
    again and again)."""
    key = f"dicomweb:{instance.file_uuid}:{frame}:{media}:{options.key()}"
    kept = caches["previews"].get(key)
    if kept is not None:
        return kept
    try:
        dataset = previews.load(instance)
        count = previews.frame_count(dataset)
        if frame >= count:
            raise ParameterOutOfRange(f"Frame {frame + 1} does not exist: this instance has {count} frame(s), from 1")
        image = previews.render_frame(dataset, frame, options.window)
    except previews.NoImage as exc:
        raise IncompatibleImageFormat(exc.reason) from exc
    image = options.fitted(image)
    data = previews.jpeg_bytes(image, options.quality) if media == JPEG else previews.png_bytes(image)
    caches["previews"].set(key, data)
    return data


class Rendering:
    """The rendering parameters of a query (PS3.18 8.3.5.1), refused with 400 as Orthanc
    refuses them."""

    def __init__(
        self,
        viewport=None,
        region=None,
        flip=(False, False),
        window=None,
        quality=previews.JPEG_QUALITY,
        padded=True,
        smooth=False,
    ):
        self.viewport, self.region, self.flip = viewport, region, flip
        self.window, self.quality = window, quality
        # Centred on a canvas of the viewport's size (Orthanc's rendered), or only scaled to
        # fit within it (WADO-URI's rows and columns).
        self.padded = padded
        # Scaled smoothly (thumbnails, WADO-URI), or by the nearest pixel as Orthanc scales.
        self.smooth = smooth

    @classmethod
    def from_query(cls, query, default_viewport=None):
        options = cls()
        if "viewport" in query:
            options._viewport(query["viewport"])
        elif default_viewport is not None:
            options.viewport = default_viewport
        if "window" in query:
            options._window(query["window"])
        if "quality" in query:
            text = query["quality"].strip()
            if not text.isdigit() or not 1 <= int(text) <= 100:
                raise ParameterOutOfRange(f"The quality of a rendered image is from 1 to 100, not {text!r}")
            options.quality = int(text)
        return options

    def _viewport(self, text):
        tokens = text.split(",")
        if len(tokens) not in (2, 6):
            raise ParameterOutOfRange(f"viewport takes 2 or 6 numbers (vw,vh[,sx,sy,sw,sh]), not {text!r}")
        width, height = (_number(token, "viewport", whole=True) for token in tokens[:2])
        for side in (width, height):
            if side is not None and not 1 <= side <= LARGEST_SIDE:
                raise ParameterOutOfRange(f"A viewport's sides are from 1 to {LARGEST_SIDE}: {text!r}")
        self.viewport = (width, height)
        if len(tokens) == 6:
            sx, sy, sw, sh = (_number(token, "viewport") for token in tokens[2:])
            self.region = (abs(round(sx or 0)), abs(round(sy or 0)), _side(sw), _side(sh))
            self.flip = (sw is not None and sw < 0, sh is not None and sh < 0)

    def _window(self, text):
        tokens = text.split(",")
        if len(tokens) != 3:
            raise ParameterOutOfRange(f"window takes center,width,function: not {text!r}")
        center, width = (_number(token, "window") for token in tokens[:2])
        function = WINDOW_FUNCTIONS.get(tokens[2].strip().lower())
        if center is None or width is None or function is None:
            raise ParameterOutOfRange(f"window takes two numbers and linear, linear-exact or sigmoid: not {text!r}")
        if width <= 0:
            raise ParameterOutOfRange(f"A window's width is more than 0: not {text!r}")
        self.window = (center, width, function)

    def key(self):
        text = repr((self.viewport, self.region, self.flip, self.window, self.quality, self.padded, self.smooth))
        return hashlib.md5(text.encode()).hexdigest()

    def fitted(self, image):
        """The region, flipped, scaled to fit the viewport and centred on it (Orthanc's
        ApplyRendering); the image itself without a viewport or region."""
        if self.region is not None:
            sx, sy, sw, sh = self.region
            right = image.width if sw is None else min(image.width, sx + sw)
            bottom = image.height if sh is None else min(image.height, sy + sh)
            if sx >= image.width or sy >= image.height or right <= sx or bottom <= sy:
                image = Image.new(image.mode, (1, 1))
            else:
                image = image.crop((sx, sy, right, bottom))
        if self.flip[0]:
            image = ImageOps.mirror(image)
        if self.flip[1]:
            image = ImageOps.flip(image)
        if self.viewport is None and self.region is None:
            return image
        width, height = self.viewport or (None, None)
        if not self.padded:
            return previews.fit_within(image, width, height, smooth=self.smooth)
        target = (width or image.width, height or image.height)
        scale = min(target[0] / image.width, target[1] / image.height)
        size = (min(target[0], max(1, round(image.width * scale))), min(target[1], max(1, round(image.height * scale))))
        if size == target and image.size == target:
            return image
        canvas = Image.new(image.mode, target)
        canvas.paste(
            image.resize(size, Image.Resampling.BILINEAR if self.smooth else Image.Resampling.NEAREST),
            ((target[0] - size[0]) // 2, (target[1] - size[1]) // 2),
        )
        return canvas


def _number(token, name, whole=False):
    """A number of a parameter, None when left empty; 400 when it is none."""
    token = token.strip()
    if not token:
        return None
    try:
        return int(token) if whole else float(token)
    except ValueError:
        raise ParameterOutOfRange(f"Not a {'whole ' if whole else ''}number in {name}: {token!r}") from None


def _side(value):
    return None if value is None else abs(round(value))
