"""What every other part of stylelab stands on: errors, devices, input checks, images, weights.

Nothing here knows about style transfer. Each module is small; import what you use:

    from stylelab.core.errors import StylelabError
    from stylelab.core.images import load_image, save_image
    from stylelab.core.weights import load_shipped
"""

from stylelab.core.errors import StylelabError

__all__ = ["StylelabError"]
