"""Chapter 7: painting from words (mechanisms.md §6).

    prompts.py      CLIPstyler's 79 prompt templates and the source text
    directional.py  the text-guided losses on embeddings: CLIPstyler's directional, patch
                    and TV losses exactly; StyleMamba's masked and second-order directional
                    losses as our reconstruction
    space.py        `ImageTextSpace` (encode_image, encode_text, unit rows; CLIPstyler's
                    prompt average and text direction), the offline text tower `MiniLMText`,
                    the image head `StatsImageHead` on the frozen encoder, and `OpenClipSpace`
                    for a real CLIP/SigLIP whose weights are on disk

Still to come (issue 14): training the image head (SigLIP loss on the painting zoo's
captions), CLIPstyler's StyleNet, StyleMamba's conditional SSM, `stylize --text`, the bench.
"""
