"""What a camera does to an image: the transformations of Kurakin, Goodfellow & Bengio (2016), in NumPy.

Kurakin et al. printed adversarial images, photographed them, and found that many
stopped being adversarial. They also applied, one at a time, the changes a camera
makes: brightness, contrast, blur, noise, JPEG compression. Here each is a callable
``t(x)`` that takes a batch shaped like a model's inputs (rows ``(N, D)``, or images
``(N, C, H, W)``) with values in [0, 1], and returns the same shape, clipped to [0, 1]
as a camera's pixels are. It recovers images from rows through ``image_shape``.

Each draws its parameter per image, uniformly from ``[low, high]`` (its default range
is Kurakin et al.'s Figure 6, scaled from [0, 255] to [0, 1]; ``low`` alone fixes it),
from its own seeded generator: the same seed gives the same draws.

A transformation given a :class:`minigrad.Tensor` returns a Tensor on the graph, so an
attack can differentiate through it (expectation over transformation). Brightness,
contrast, noise, blur (a fixed Gaussian kernel through ``conv2d``), rotation (bilinear
resampling, through indexing) and translation (whole-pixel shifts) are differentiable;
JPEG is not (it rounds), and passes the gradient straight through (BPDA), as
``models.straight_through`` does for the quantiser.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

import minigrad as mg

from .checks import check_inputs, labels_for, real_number

#: The standard JPEG luminance quantisation table (ITU-T T.81, Annex K), for quality 50.
LUMINANCE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
], np.float64)
#: Blur sigmas are drawn on this grid (pixels), so that images sharing one share a kernel (one ``conv2d`` each).
SIGMA_STEP = 0.1


class Transformation:
    """The shared machinery: the shape, the seeded draws, rows in and rows out, clipping (see the module docstring).

    A subclass sets ``key``, ``default_range`` and ``apply(images, parameters)``, which maps a
    Tensor of images ``(N, C, H, W)`` and one drawn parameter per image to a Tensor of images.
    """

    key = ""
    default_range = (0.0, 0.0)
    differentiable = True

    def __init__(self, low=None, high=None, *, image_shape=(1, 28, 28), seed: int = 0):
        name = type(self).__name__
        if low is None and high is None:
            low, high = self.default_range
        elif low is None:
            raise ValueError(f"{name}: high={high} given without low (give low alone to fix the parameter)")
        low = real_number(low, f"{name}: low")
        high = low if high is None else real_number(high, f"{name}: high")  # low alone: a fixed parameter
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise ValueError(f"{name}: needs finite low <= high, got low={low}, high={high}")
        self.check_range(low, high)
        shape = tuple(image_shape)
        if len(shape) != 3 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape):
            raise ValueError(f"{name}: image_shape must be (channels, height, width), got {image_shape!r}")
        self.low, self.high, self.image_shape = float(low), float(high), shape
        self.rng = np.random.default_rng(seed)

    def check_range(self, low: float, high: float) -> None:
        """A ValueError for parameters the transformation cannot take (each subclass its own)."""

    def draw(self, n: int) -> np.ndarray:
        """(n,) float64 parameters, uniform in [low, high]."""
        return self.rng.uniform(self.low, self.high, n)

    def __call__(self, x):
        given_tensor = isinstance(x, mg.Tensor)
        x = x if given_tensor else mg.Tensor(np.asarray(x, dtype=np.float32))
        name, (c, h, w) = type(self).__name__, self.image_shape
        if x.ndim == 2 and x.shape[1] == c * h * w:
            images = x.reshape((len(x.data), c, h, w))
        elif x.ndim == 4 and x.shape[1:] == self.image_shape:
            images = x
        else:
            raise ValueError(f"{name}: x must be rows (N, {c * h * w}) or images (N, {c}, {h}, {w}), got {x.shape}")
        if x.data.size and not np.isfinite(x.data).all():
            raise ValueError(f"{name}: x contains NaN or inf")
        out = mg.clip(self.apply(images, self.draw(len(x.data))), 0.0, 1.0).reshape(x.shape)
        return out if given_tensor else out.data

    def apply(self, images: mg.Tensor, parameters: np.ndarray) -> mg.Tensor:  # pragma: no cover - every subclass
        raise NotImplementedError


def per_image(parameters: np.ndarray, dtype) -> np.ndarray:
    """(N,) parameters as (N, 1, 1, 1) in the images' dtype, to broadcast over each image."""
    return parameters.astype(dtype).reshape(-1, 1, 1, 1)


class Brightness(Transformation):
    """x + delta: every pixel of an image brighter (or darker) by the same amount."""

    key, default_range = "brightness", (-30 / 255, 30 / 255)

    def apply(self, images, deltas):
        return images + per_image(deltas, images.dtype)


class Contrast(Transformation):
    """x * c: contrast scaled around black (0), as Kurakin et al.'s X * c; c > 1 stretches, c < 1 flattens."""

    key, default_range = "contrast", (0.7, 1.2)

    def check_range(self, low, high):
        if low < 0:
            raise ValueError(f"Contrast: the factor must be at least 0, got low={low}")

    def apply(self, images, factors):
        return images * per_image(factors, images.dtype)


class GaussianNoise(Transformation):
    """x + sigma * n, n standard normal per pixel, sigma drawn per image."""

    key, default_range = "noise", (5 / 255, 20 / 255)

    def check_range(self, low, high):
        if low < 0:
            raise ValueError(f"GaussianNoise: sigma must be at least 0, got low={low}")

    def apply(self, images, sigmas):
        noise = self.rng.standard_normal(images.shape).astype(images.dtype)
        return images + noise * per_image(sigmas, images.dtype)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """The normalised 1-D Gaussian of ``sigma`` pixels, truncated at 4 sigma (as ``scipy.ndimage`` truncates)."""
    radius = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return taps / taps.sum()


class GaussianBlur(Transformation):
    """A Gaussian blur of sigma pixels: one fixed kernel per sigma, applied by ``conv2d`` (zero padding).

    The 2-D kernel is the outer product of the 1-D one with itself (the Gaussian is
    separable), applied to each channel alone. Sigmas are drawn on a grid of
    :data:`SIGMA_STEP` pixels, so the images that share a sigma share one ``conv2d``.
    """

    key, default_range = "blur", (0.4, 2.0)

    def check_range(self, low, high):
        if low < SIGMA_STEP:
            raise ValueError(f"GaussianBlur: sigma must be at least {SIGMA_STEP}, got low={low}")
        if not len(self.grid(low, high)):
            raise ValueError(f"GaussianBlur: no sigma on the {SIGMA_STEP}-pixel grid lies in [{low}, {high}]")

    @staticmethod
    def grid(low: float, high: float) -> np.ndarray:
        """The sigmas on the grid within [low, high] (a hair of tolerance for decimal fractions)."""
        return np.arange(np.ceil(low / SIGMA_STEP - 1e-9), np.floor(high / SIGMA_STEP + 1e-9) + 1) * SIGMA_STEP

    def draw(self, n):
        return self.rng.choice(self.grid(self.low, self.high), n)

    def apply(self, images, sigmas):
        channels = self.image_shape[0]
        parts, order = [], []
        for sigma in np.unique(sigmas):
            chosen = np.flatnonzero(sigmas == sigma)
            taps = gaussian_kernel(sigma)
            kernel = np.zeros((channels, channels, len(taps), len(taps)), images.dtype)
            kernel[np.arange(channels), np.arange(channels)] = np.outer(taps, taps)  # each channel blurs alone
            parts.append(mg.conv2d(images[chosen], mg.Tensor(kernel), padding=len(taps) // 2))
            order.append(chosen)
        return mg.concatenate(parts)[np.argsort(np.concatenate(order))]


def jpeg_table(quality) -> np.ndarray:
    """The luminance table scaled to ``quality`` (1-100) by the Independent JPEG Group's rule, entries in 1..255:
    (8, 8) for one quality, (..., 8, 8) for an array of them."""
    quality = np.asarray(quality, dtype=np.float64)[..., None, None]
    scale = np.where(quality < 50, 5000 / quality, 200 - 2 * quality)
    return np.clip(np.floor((LUMINANCE * scale + 50) / 100), 1, 255)


def block_dct(images: np.ndarray) -> np.ndarray:
    """The 2-D DCT-II (orthonormal) of every 8x8 block: (N, C, H, W), H and W multiples of 8, to
    (N, C, H/8, W/8, 8, 8)."""
    n, c, h, w = images.shape
    blocks = images.reshape(n, c, h // 8, 8, w // 8, 8).transpose(0, 1, 2, 4, 3, 5)
    return scipy.fft.dctn(blocks, type=2, norm="ortho", axes=(-2, -1))


def block_idct(coefficients: np.ndarray) -> np.ndarray:
    """The inverse of :func:`block_dct`."""
    n, c, hb, wb = coefficients.shape[:4]
    blocks = scipy.fft.idctn(coefficients, type=2, norm="ortho", axes=(-2, -1))
    return blocks.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, hb * 8, wb * 8)


def jpeg(images: np.ndarray, qualities: np.ndarray) -> np.ndarray:
    """JPEG compression and decompression of (N, C, H, W) images in [0, 1], quality per image.

    Pixels become 0..255 and are shifted by -128; the image is padded to whole 8x8
    blocks by repeating its edge; each block's DCT coefficients are divided by the
    quality's table, rounded, and multiplied back; the inverse DCT, unshifted, is
    rounded to 0..255, as a decoder's 8-bit output is. (Every channel uses the luminance
    table: there is no colour subsampling.)
    """
    n, c, h, w = images.shape
    pixels = np.pad(images.astype(np.float64) * 255 - 128, ((0, 0), (0, 0), (0, -h % 8), (0, -w % 8)), mode="edge")
    tables = jpeg_table(qualities).reshape(n, 1, 1, 1, 8, 8)
    coefficients = np.round(block_dct(pixels) / tables) * tables
    decoded = np.clip(np.round(block_idct(coefficients) + 128), 0, 255)[:, :, :h, :w]
    return (decoded / 255).astype(images.dtype)


class JPEG(Transformation):
    """JPEG compression at a quality drawn per image (:func:`jpeg`); its gradient passes straight through (BPDA)."""

    key, default_range, differentiable = "jpeg", (10.0, 100.0), False

    def check_range(self, low, high):
        if low < 1 or high > 100:
            raise ValueError(f"JPEG: quality must be within 1..100, got low={low}, high={high}")

    def apply(self, images, qualities):
        return mg.Tensor.from_op(jpeg(images.data, qualities), (images,), (lambda g: g,), "jpeg (straight through)")


def shifted_indices(rows: np.ndarray, cols: np.ndarray, height: int, width: int):
    """Indices into an image padded by one zero pixel on every side, for sampling points (rows, cols) given in
    the unpadded image's coordinates: a point outside the image reads the zero border."""
    return np.clip(rows + 1, 0, height + 1), np.clip(cols + 1, 0, width + 1)


def resample(images: mg.Tensor, rows: np.ndarray, cols: np.ndarray) -> mg.Tensor:
    """Bilinear samples of each image at real-valued points: ``rows``, ``cols`` of shape (N, H, W) say where
    output pixel (i, j) of image n reads image n; outside the image counts as 0.

    Each output pixel is a weighted sum of the four pixels around its point, so the op is
    linear in the images and its VJP (through indexing, ``np.add.at``) sends each output
    gradient back to those four pixels with the same weights.
    """
    n, c, h, w = images.shape
    padded = mg.concatenate([mg.Tensor(np.zeros((n, c, h, 1), images.dtype)), images,
                             mg.Tensor(np.zeros((n, c, h, 1), images.dtype))], axis=3)
    padded = mg.concatenate([mg.Tensor(np.zeros((n, c, 1, w + 2), images.dtype)), padded,
                             mg.Tensor(np.zeros((n, c, 1, w + 2), images.dtype))], axis=2)
    top, left = np.floor(rows), np.floor(cols)
    down, right = (rows - top).astype(images.dtype), (cols - left).astype(images.dtype)
    image, channel = np.arange(n).reshape(n, 1, 1, 1), np.arange(c).reshape(1, c, 1, 1)
    total = None
    for dr, dc, weight in ((0, 0, (1 - down) * (1 - right)), (0, 1, (1 - down) * right),
                           (1, 0, down * (1 - right)), (1, 1, down * right)):
        r, q = shifted_indices(top.astype(np.int64) + dr, left.astype(np.int64) + dc, h, w)
        corner = padded[image, channel, r[:, None], q[:, None]] * weight[:, None]
        total = corner if total is None else total + corner
    return total


class Rotation(Transformation):
    """A rotation by an angle (degrees, counter-clockwise as displayed) about the image's centre, by bilinear
    resampling; what leaves the frame is lost, what enters is black (0)."""

    key, default_range = "rotation", (-10.0, 10.0)

    def apply(self, images, angles):
        h, w = self.image_shape[1:]
        i, j = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
        theta = -np.deg2rad(angles).reshape(-1, 1, 1)  # rows run down the screen: minus, for counter-clockwise there
        rows = np.cos(theta) * i - np.sin(theta) * j + (h - 1) / 2  # where output pixel (i, j) comes from
        cols = np.sin(theta) * i + np.cos(theta) * j + (w - 1) / 2
        return resample(images, rows, cols)


class Translation(Transformation):
    """A shift by whole pixels, drawn per image and per axis from the integers in [low, high]; what leaves the
    frame is lost, what enters is black (0). Whole pixels keep the image sharp (no resampling blur)."""

    key, default_range = "translation", (-2.0, 2.0)

    def draw(self, n):
        return self.rng.integers(int(np.ceil(self.low)), int(np.floor(self.high)) + 1, (n, 2))

    def check_range(self, low, high):
        if np.floor(high) < np.ceil(low):
            raise ValueError(f"Translation: [low, high] = [{low}, {high}] holds no whole number of pixels")

    def apply(self, images, shifts):
        h, w = self.image_shape[1:]
        i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        return resample(images, i - shifts[:, :1, None], j - shifts[:, 1:, None])


class Photo(Transformation):
    """The print-and-photograph simulation: rotation, translation, blur, brightness, contrast, noise and JPEG
    (in that order: the geometry of the shot, the lens, the light, the sensor, the file), each with its own
    random parameter per image drawn from its default range."""

    key, default_range = "photo", (0.0, 0.0)
    differentiable = False  # its JPEG passes the gradient straight through

    def __init__(self, *, image_shape=(1, 28, 28), seed: int = 0):
        super().__init__(image_shape=image_shape, seed=seed)
        seeds = np.random.SeedSequence(seed).spawn(len(CHAIN))
        self.steps = [cls(image_shape=image_shape, seed=s) for cls, s in zip(CHAIN, seeds)]

    def apply(self, images, _):
        for step in self.steps:
            images = mg.clip(step.apply(images, step.draw(len(images.data))), 0.0, 1.0)
        return images


CHAIN = (Rotation, Translation, GaussianBlur, Brightness, Contrast, GaussianNoise, JPEG)
#: Every transformation by its key (the keys of the rows).
TRANSFORMATIONS = {cls.key: cls for cls in (Brightness, Contrast, GaussianBlur, GaussianNoise, JPEG, Rotation,
                                            Translation, Photo)}


def destruction_rate(model, x, x_adv, y, transform) -> float:
    """Kurakin et al.'s Eq. 1: of the images whose clean version ``model`` classifies right and whose
    adversarial version it gets wrong, the fraction that ``transform`` makes right again.

        d = sum_k C(x_k) (1 - C(x_adv_k)) C(T(x_adv_k)) / sum_k C(x_k) (1 - C(x_adv_k)),

    C(.) being 1 when the model's prediction is the label y_k. ``transform`` is called once,
    on all N rows of x_adv (an ndarray in, an ndarray of the same shape out). NaN when no
    image counts (no clean success turned into a mistake): a rate of nothing.
    """
    x = check_inputs(model, x, (0.0, 1.0), "destruction_rate")
    x_adv = check_inputs(model, x_adv, (0.0, 1.0), "destruction_rate: x_adv")
    if x_adv.shape != x.shape:
        raise ValueError(f"destruction_rate: x_adv has shape {x_adv.shape}, x has {x.shape}")
    y = labels_for(model, y, len(x), required=True, what="destruction_rate: y")
    transformed = transform(x_adv)
    if not isinstance(transformed, np.ndarray) or transformed.shape != x_adv.shape:
        got = transformed.shape if isinstance(transformed, np.ndarray) else type(transformed).__name__
        raise ValueError(f"destruction_rate: transform must return an ndarray of shape {x_adv.shape}, got {got}")
    counted = (model.predict(x) == y) & (model.predict(x_adv) != y)
    if not counted.any():
        return float("nan")
    return float(np.count_nonzero(counted & (model.predict(transformed) == y)) / np.count_nonzero(counted))
