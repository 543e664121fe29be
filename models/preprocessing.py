"""``ContrastWhitening``: the maxout paper's CIFAR-10 preprocessing, as a fixed, differentiable layer.

The maxout and adversarial-examples papers trained on CIFAR-10 images that had been
*globally contrast normalised*, then *ZCA whitened* (pylearn2's
``make_cifar10_gcn_whitened.py``). Their eps = 0.1 is in the units of those
preprocessed inputs, not of pixels. Attack libraries' users, meanwhile, expect inputs
in [0, 1]. Putting the preprocessing inside the model as its first layer serves both:
the model takes pixels, an attack on the model works in pixel units, and an attack on
:meth:`models.ImageClassifier.on_preprocessed` works in the paper's units, with the
same weights.

The two steps, for one image x of D pixels (a row):

* Global contrast normalisation (GCN): ``g = s (x - mean(x)) / ||x - mean(x)||``,
  the image centred and scaled to L2 norm ``s`` (pylearn2: ``scale=55``, no bias
  under the square root). The brightness and contrast of the image are gone; what is
  left is its pattern. GCN does not care about the unit of x, so [0, 1] pixels give the
  same g as pylearn2's 0..255, except for images so flat that their centred norm is
  below 1e-8: those are not divided at all (``s (x - mean(x))``, next to zero), where
  pylearn2's rule, applied to the norm divided by the scale, differs in which near-flat
  images it catches.
* ZCA whitening: ``z = (g - m) W`` with ``m`` the mean of g over the training images,
  and ``W = V diag((lambda + b)^(-1/2)) V^T`` from their covariance ``V diag(lambda)
  V^T``: the directions of large variance (smooth colour blobs) are shrunk and those
  of small variance (edges) amplified, and ``W`` is symmetric, so z still looks like
  an image (of edges). ``b`` (``filter_bias``, pylearn2's 0.1) keeps the noise
  directions of tiny variance from being blown up without bound.

Both are differentiable: GCN is made of the engine's ops and ZCA is one matrix
product, so input gradients flow from the logits back to the pixels. ``W`` and ``m``
are buffers (:class:`models.Module`): saved with the model, never trained.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

import minigrad as mg
from minigrad.validation import is_numeric

from .layers import positive_int, positive_number
from .module import Module

MIN_NORM = 1e-8  # pylearn2's min_divisor: an image this flat is divided by 1


class ContrastWhitening(Module):
    """GCN, then ZCA whitening, fitted on training rows with :meth:`fit`; rows in, rows out.

    Until :meth:`fit` (or loading a saved model) sets them, the buffers hold NaN, and
    the layer refuses to run: a forgotten fit cannot pass for a fitted one.
    """

    buffer_names = ("mean", "whitening")

    def __init__(self, n_features: int, *, scale: float = 55.0, filter_bias: float = 0.1):
        self.n_features = positive_int(n_features, "ContrastWhitening: n_features")
        self.scale = positive_number(scale, "ContrastWhitening: scale")
        self.filter_bias = positive_number(filter_bias, "ContrastWhitening: filter_bias")
        self.mean = np.full(self.n_features, np.nan, dtype=np.float32)
        self.whitening = np.full((self.n_features, self.n_features), np.nan, dtype=np.float32)

    @property
    def fitted(self) -> bool:
        return not np.isnan(self.whitening[0, 0])

    def check_fitted(self, what: str = "ContrastWhitening") -> None:
        """A ValueError naming ``what`` unless the layer has been fitted (or loaded fitted)."""
        if not self.fitted:
            raise ValueError(f"{what}: not fitted: call fit(training rows) first (or load a saved model)")

    def check_rows(self, shape: tuple, what: str, name: str = "x") -> None:
        """A ValueError naming ``what``, the argument ``name``, the expected and the given shape, unless
        ``shape`` is (N, n_features)."""
        if len(shape) != 2 or shape[1] != self.n_features:
            raise ValueError(f"{what}: {name} must have shape (N, {self.n_features}) (the layer's n_features), "
                             f"got {shape}")

    def forward(self, x):
        self.check_fitted()
        self.check_rows(np.shape(x), "ContrastWhitening")
        g = self.contrast_normalise(x)
        dtype = g.data.dtype  # float32 buffers meet float32 inputs without a copy; float64 (gradcheck) stays float64
        return mg.matmul(g - self.mean.astype(dtype, copy=False), self.whitening.astype(dtype, copy=False))

    def contrast_normalise(self, x):
        """g = scale * (x - mean(x)) / ||x - mean(x)|| per row, as a Tensor (differentiable)."""
        x = x if isinstance(x, mg.Tensor) else mg.Tensor(x)
        centered = x - x.mean(axis=1, keepdims=True)
        squares = (centered * centered).sum(axis=1, keepdims=True)
        flat = squares.data < MIN_NORM**2
        # The square root's derivative is infinite at 0: take it of at least MIN_NORM^2, so a
        # flat image gets a finite gradient; where() then divides such an image by 1.
        divisor = mg.where(flat, 1.0, mg.sqrt(mg.maximum(squares, MIN_NORM**2)))
        return centered * (self.scale / divisor)

    def fit(self, X, *, batch_size: int = 5000) -> "ContrastWhitening":
        """Fit ``m`` and ``W`` on the training rows ``X`` (N, n_features); returns the layer.

        With at least as many images as pixels (CIFAR-10: 40,000 of 3,072), the covariance
        is summed in float64 from float32 products of ``batch_size`` rows at a time (the
        images never exist as one float64 array) and eigendecomposed in float64. With
        fewer images than pixels, the covariance has rank below N, and the thin SVD of
        the centred images gives the same eigenvectors at a fraction of the cost; every
        other direction has variance 0, so ``W`` is ``b^(-1/2)`` there.

        ``batch_size`` is a positive int (a bad one would fit nothing, or fail inside NumPy);
        ``X`` (an array, or a Tensor: its values) holds real numbers, at least 2 rows of
        ``n_features``, none NaN or inf. A refused fit leaves the layer as it was.
        """
        batch_size = positive_int(batch_size, "ContrastWhitening.fit: batch_size")
        X = self._training_rows(X)
        if len(X) < self.n_features:
            g = self._normalised_rows(X, batch_size).astype(np.float64)
            mean = g.mean(axis=0)
            _, singular, directions = np.linalg.svd(g - mean, full_matrices=False)
            variances = singular**2 / len(X)
            floor = 1 / np.sqrt(self.filter_bias)
            whitening = (directions.T * (1 / np.sqrt(variances + self.filter_bias) - floor)) @ directions
            whitening[np.diag_indices_from(whitening)] += floor
        else:
            total, products = np.zeros(self.n_features), np.zeros((self.n_features, self.n_features))
            for start in range(0, len(X), batch_size):
                g = self._normalised_rows(X[start : start + batch_size], batch_size)
                total += g.sum(axis=0, dtype=np.float64)
                products += g.T @ g
            mean = total / len(X)
            covariance = products / len(X) - np.outer(mean, mean)
            variances, directions = scipy.linalg.eigh(covariance, driver="evd")
            variances = np.maximum(variances, 0.0)  # round-off can make the smallest slightly negative
            whitening = (directions / np.sqrt(variances + self.filter_bias)) @ directions.T
        self.mean[...] = mean
        self.whitening[...] = whitening
        return self

    def _training_rows(self, X) -> np.ndarray:
        """``X`` as an array of real numbers of shape (N >= 2, n_features), or a ValueError saying what it is."""
        try:
            X = np.asarray(mg.values_of(X))
        except ValueError:  # a ragged list of rows
            raise ValueError("ContrastWhitening.fit: X must be an array of rows of equal length, got a ragged list") \
                from None
        if not is_numeric(X, bools=True):
            raise ValueError(f"ContrastWhitening.fit: X must hold real numbers, got dtype {X.dtype}")
        self.check_rows(X.shape, "ContrastWhitening.fit", "X")
        if len(X) < 2:
            raise ValueError(f"ContrastWhitening.fit: X must hold at least 2 rows (a covariance needs them), got {X.shape}")
        return X

    def _normalised_rows(self, X, batch_size: int) -> np.ndarray:
        """GCN of the rows of ``X`` as float32, in batches, refusing NaN and inf."""
        parts = []
        with mg.no_grad():
            for start in range(0, len(X), batch_size):
                chunk = np.asarray(X[start : start + batch_size], dtype=np.float32)
                if not np.isfinite(chunk).all():
                    raise ValueError("ContrastWhitening.fit: X holds NaN or inf")
                parts.append(self.contrast_normalise(chunk).data)
        return np.concatenate(parts)

    def pixel_change(self, x, dz) -> np.ndarray:
        """The pixel change, to first order, that moves the preprocessed rows of ``x`` by ``dz``.

        Undo the whitening (``dg = dz W^-1``), then GCN's linearisation at x: GCN cannot
        produce a change along the constant image (it removes the mean) nor along the
        image's own centred pattern u (it fixes the norm), so those two components of
        dg are dropped, and the rest is scaled by ``||x - mean(x)|| / scale``. What
        remains is the perturbation in pixel units: its L-infinity norm is what an eps
        in preprocessed units costs in pixels. ``x`` and ``dz`` are arrays (or Tensors) of
        shape (N, n_features), finite.
        """
        self.check_fitted("ContrastWhitening.pixel_change")
        x, dz = np.asarray(mg.values_of(x), dtype=np.float32), np.asarray(mg.values_of(dz), dtype=np.float64)
        self.check_rows(x.shape, "ContrastWhitening.pixel_change")
        if dz.shape != x.shape:
            raise ValueError(f"ContrastWhitening.pixel_change: dz must have the shape of x, {x.shape}, got {dz.shape}")
        for name, value in (("x", x), ("dz", dz)):
            if not np.isfinite(value).all():
                raise ValueError(f"ContrastWhitening.pixel_change: {name} holds NaN or inf")
        dg = scipy.linalg.solve(self.whitening.astype(np.float64), dz.T, assume_a="pos").T
        centered = x - x.mean(axis=1, keepdims=True)
        norm = np.sqrt(np.einsum("ij,ij->i", centered, centered))[:, None]
        divisor = np.where(norm < MIN_NORM, 1.0, norm)
        pattern = centered / divisor
        dg -= dg.mean(axis=1, keepdims=True)
        dg -= np.einsum("ij,ij->i", dg, pattern)[:, None] * pattern
        return (dg * (divisor / self.scale)).astype(np.float32)
