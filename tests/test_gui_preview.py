"""The preview canvas: the image as large as fits, aspect kept, each pixel a sharp square."""
import numpy as np

from latent_explorer.gui.widgets.preview import PreviewView


def test_preview_draws_the_image_nearest_neighbour_and_centred(qtbot):
    view = PreviewView()
    qtbot.addWidget(view)
    view.resize(300, 240)
    view.show()
    img = np.zeros((2, 2, 3), np.uint8)
    img[0, 0] = (255, 0, 0)      # a 2×2 image: red, green / blue, white
    img[0, 1] = (0, 255, 0)
    img[1, 0] = (0, 0, 255)
    img[1, 1] = (255, 255, 255)
    seen = []
    view.updated.connect(seen.append)
    view.show_image(img, request_id=7, caption="four pixels")
    assert seen == [7] and view.request_id == 7 and not view.placeholder.isVisible()
    qtbot.waitExposed(view)
    canvas = view.view
    target = canvas.target_rect()
    assert target.width() == target.height() == min(canvas.width(), canvas.height())  # square, as large as fits
    assert abs(target.center().x() - canvas.width() // 2) <= 1
    shot = canvas.grab().toImage()
    q = target.width() // 4

    def rgb(x, y):
        c = shot.pixelColor(target.left() + x, target.top() + y)
        return c.red(), c.green(), c.blue()

    assert rgb(q, q) == (255, 0, 0) and rgb(3 * q, q) == (0, 255, 0)
    assert rgb(q, 3 * q) == (0, 0, 255) and rgb(3 * q, 3 * q) == (255, 255, 255)
    # no smoothing: just inside each pixel's edge the colour is still pure
    half = target.width() // 2
    assert rgb(half - 2, q) == (255, 0, 0) and rgb(half + 1, q) == (0, 255, 0)
    # grey images work too
    view.show_image(np.full((4, 4, 1), 128, np.uint8))
    shot = canvas.grab().toImage()
    c = shot.pixelColor(canvas.target_rect().center())
    assert (c.red(), c.green(), c.blue()) == (128, 128, 128)
