"""Prompt templates: CLIPstyler averages a text's embedding over CLIP's ImageNet prompts.

CLIPstyler (train_CLIPstyler.py, mechanisms.md §6.1) uses 79 of the 80 templates that CLIP's
authors wrote for zero-shot ImageNet ("a photo of many {}." is the one left out): the
target text t_tgt is the mean of E_T(template.format(style)) over them, re-normalised, and the
source text is "a Photo" through the same templates.
"""

from __future__ import annotations

from stylelab.core.errors import StylelabError

SOURCE_TEXT = "a Photo"  # CLIPstyler's source, capital P as in its code

TEMPLATES = (
    "a bad photo of a {}.", "a sculpture of a {}.", "a photo of the hard to see {}.",
    "a low resolution photo of the {}.", "a rendering of a {}.", "graffiti of a {}.",
    "a bad photo of the {}.", "a cropped photo of the {}.", "a tattoo of a {}.",
    "the embroidered {}.", "a photo of a hard to see {}.", "a bright photo of a {}.",
    "a photo of a clean {}.", "a photo of a dirty {}.", "a dark photo of the {}.",
    "a drawing of a {}.", "a photo of my {}.", "the plastic {}.", "a photo of the cool {}.",
    "a close-up photo of a {}.", "a black and white photo of the {}.", "a painting of the {}.",
    "a painting of a {}.", "a pixelated photo of the {}.", "a sculpture of the {}.",
    "a bright photo of the {}.", "a cropped photo of a {}.", "a plastic {}.",
    "a photo of the dirty {}.", "a jpeg corrupted photo of a {}.", "a blurry photo of the {}.",
    "a photo of the {}.", "a good photo of the {}.", "a rendering of the {}.",
    "a {} in a video game.", "a photo of one {}.", "a doodle of a {}.",
    "a close-up photo of the {}.", "a photo of a {}.", "the origami {}.",
    "the {} in a video game.", "a sketch of a {}.", "a doodle of the {}.", "a origami {}.",
    "a low resolution photo of a {}.", "the toy {}.", "a rendition of the {}.",
    "a photo of the clean {}.", "a photo of a large {}.", "a rendition of a {}.",
    "a photo of a nice {}.", "a photo of a weird {}.", "a blurry photo of a {}.",
    "a cartoon {}.", "art of a {}.", "a sketch of the {}.", "a embroidered {}.",
    "a pixelated photo of a {}.", "itap of the {}.", "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.", "a plushie {}.", "a photo of the nice {}.",
    "a photo of the small {}.", "a photo of the weird {}.", "the cartoon {}.",
    "art of the {}.", "a drawing of the {}.", "a photo of the large {}.",
    "a black and white photo of a {}.", "the plushie {}.", "a dark photo of a {}.",
    "itap of a {}.", "graffiti of the {}.", "a toy {}.", "itap of my {}.",
    "a photo of a cool {}.", "a photo of a small {}.", "a tattoo of the {}.",
)  # fmt: skip


def check_prompt(prompt) -> str:
    """The prompt, stripped; a clear error for an empty or non-string one."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise StylelabError(f"the text prompt must be a non-empty string, got {prompt!r}")
    return prompt.strip()


def templated(prompt: str) -> list[str]:
    """The prompt in every template: the texts whose embeddings CLIPstyler averages."""
    prompt = check_prompt(prompt)
    return [template.format(prompt) for template in TEMPLATES]
