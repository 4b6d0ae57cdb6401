"""Sample grids: one column per named image, each labelled in a header strip."""

import numpy as np

from keras_i2i.training.callbacks import LABEL_HEIGHT, image_grid


def test_grid_has_a_labelled_column_per_name():
    named = {"real_a": -np.ones((2, 32, 32, 3), np.float32), "fake_b": np.ones((2, 32, 32, 3), np.float32),
             "rec_a": np.zeros((2, 32, 32, 3), np.float32)}
    grid = image_grid(named)
    assert grid.shape == (LABEL_HEIGHT + 2 * 32, 3 * 32, 3) and grid.dtype == np.uint8
    header, body = grid[:LABEL_HEIGHT], grid[LABEL_HEIGHT:]
    for column in range(3):  # every column's label is drawn (dark text on white) and stays in its column
        cell = header[:, column * 32:(column + 1) * 32]
        assert (cell < 100).any() and (cell[:, -1] == 255).all()
    assert (body[:, :32] == 0).all() and (body[:, 32:64] == 255).all() and (body[:, 64:] == 128).all()
    assert image_grid(named, labels=False).shape == (64, 96, 3)


def test_long_labels_are_cut_to_their_column():
    grid = image_grid({"a_very_long_column_name": np.zeros((1, 16, 16, 3), np.float32),
                       "x": np.zeros((1, 16, 16, 3), np.float32)})
    assert (grid[:LABEL_HEIGHT, 15] == 255).all()  # nothing drawn over the column border
