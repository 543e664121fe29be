"""What a test checks of a figure the suite drew."""

PNG = b"\x89PNG\r\n\x1a\n"


def assert_drawn(path, *, min_width: int = 300, min_height: int = 200):
    """``path`` is a PNG of at least that many pixels with something drawn on it (not one flat colour)."""
    from matplotlib.image import imread

    assert open(path, "rb").read(8) == PNG, f"{path} is not a PNG"
    pixels = imread(path)
    height, width = pixels.shape[:2]
    assert width >= min_width and height >= min_height, f"{path} is only {width}x{height}"
    assert pixels[..., :3].std() > 0.02, f"{path} is blank"
