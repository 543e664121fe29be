"""The exercises' stubs: the files ``advex exercises start DIR`` copies into a student's folder.

Each is a module of its own, with the functions to complete; every body raises
``NotImplementedError``. They are read as text by :mod:`attacks.exercises.catalog`.
"""
