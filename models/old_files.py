"""Files of an older layout, upgraded as they load: model files of format 1 (commit e4bdc86 and before).

Format 1 kept the columns of a :class:`models.Maxout` layer grouped by unit: column
``u * pieces + k`` was piece k of unit u. Format 2 keeps them piece-major, the layer's
own layout (column ``k * units + u``). Nothing else differs between the two formats, so
upgrading a format-1 state permutes the columns of every Maxout layer's weight and bias
and leaves every other array as it is. A file is never rewritten: a format-1 file is
converted each time it loads, and its bytes (and any digest recorded of them) stay as
they were. Checkpoints written by that commit hold the same layout
(:mod:`training.checkpoints` upgrades them with the functions below).

>>> import numpy as np
>>> piece_major_from_unit_grouped(np.array(["u0k0", "u0k1", "u1k0", "u1k1", "u2k0", "u2k1"]), pieces=2)
array(['u0k0', 'u1k0', 'u2k0', 'u0k1', 'u1k1', 'u2k1'], dtype='<U4')
"""

from __future__ import annotations

import numpy as np

from .layers import Maxout

#: The number of the model file format whose Maxout columns are grouped by unit.
UNIT_GROUPED_FORMAT = 1


def piece_major_from_unit_grouped(array: np.ndarray, pieces: int) -> np.ndarray:
    """A new array: ``array`` with its last axis, unit-grouped columns (``u * pieces + k``), reordered
    piece-major (``k * units + u``). Read as (units, pieces), the last axis is transposed to (pieces, units)."""
    units = array.shape[-1] // pieces
    by_unit = array.reshape(*array.shape[:-1], units, pieces)
    return np.ascontiguousarray(np.swapaxes(by_unit, -1, -2)).reshape(array.shape)


def maxout_columns(model) -> dict:
    """``{dotted name: pieces}`` of every array of ``model`` whose columns a :class:`models.Maxout` lays out
    (its ``linear.weight`` and ``linear.bias``)."""
    return {prefix + name: module.pieces for prefix, module in model.named_modules() if isinstance(module, Maxout)
            for name in ("linear.weight", "linear.bias")}


def upgrade_unit_grouped_state(model, state: dict) -> dict:
    """``state`` (``{name: array}``, as a format-1 file holds it for ``model``) with the columns of every
    Maxout array made piece-major; every other array as it is.

    An array whose shape does not fit ``model`` is left as it is, for
    :meth:`models.Module.check_state_dict` to name.
    """
    columns, own = maxout_columns(model), model.state_arrays()
    return {name: _piece_major_if_it_fits(array, columns.get(name), own.get(name)) for name, array in state.items()}


def upgrade_unit_grouped_parameter_arrays(model, parameters: list, arrays: list) -> list:
    """``arrays[i]``, an array of the shape of ``parameters[i]`` (a parameter of ``model``) saved in the format-1
    layout, as an optimizer's buffers are, with the columns of each Maxout parameter's array made piece-major."""
    names = {id(p): name for name, p in model.named_parameters()}
    columns = maxout_columns(model)
    return [_piece_major_if_it_fits(array, columns.get(names.get(id(p))), p.data)
            for p, array in zip(parameters, arrays, strict=True)]


def _piece_major_if_it_fits(array, pieces, own):
    """``array`` made piece-major if it holds a Maxout layer's columns (``pieces`` not None) and has the
    shape of the layer's own array ``own``; else ``array`` itself."""
    if pieces is None or own is None or np.shape(array) != own.shape:
        return array
    return piece_major_from_unit_grouped(np.asarray(array), pieces)
